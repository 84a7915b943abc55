"""Work on every core, in threads: for NumPy's and Arrow's loops, which release the GIL.

Threads, not processes: the arrays are shared, not copied, and nothing starts up.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def on_threads(function: Callable[[T], Any], items: Iterable[T], threads: int = CORES) -> None:
    """``function(item)`` for every item, on ``threads`` threads (one item: in this thread).

    Raises:
        Exception: The first error of ``function``, once every item has been given out.
    """
    items = list(items)
    if len(items) <= 1 or threads <= 1:
        for item in items:
            function(item)
        return
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        for _ in pool.map(function, items):
            pass


def in_order_on_threads(function: Callable[[T], R], items: Iterable[T],
                        threads: int) -> Iterator[tuple[T, R]]:  # fmt: skip
    """Each item with ``function(item)``, in the items' order, computed on ``threads`` threads.

    At most ``threads`` items are taken ahead of the one given, so memory holds a few chunks
    of a table, never the whole of it. An error in ``function`` is raised where its item
    would be given.
    """
    with ThreadPoolExecutor(threads, thread_name_prefix="in-order") as pool:
        pending: deque[tuple[T, Future[R]]] = deque()
        for item in items:
            pending.append((item, pool.submit(function, item)))
            if len(pending) > threads:
                item, future = pending.popleft()
                yield item, future.result()
        while pending:
            item, future = pending.popleft()
            yield item, future.result()
