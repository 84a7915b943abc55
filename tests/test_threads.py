"""Work on threads: every item done, in order where asked, errors raised, memory bounded."""

from __future__ import annotations

import threading
import time

import pytest

from customer_segmentation.threads import in_order_on_threads, on_threads


def test_every_item_is_done_on_several_threads_and_an_error_is_raised():
    done: dict[int, str] = {}

    def record(item):
        time.sleep(0.002)
        done[item] = threading.current_thread().name

    on_threads(record, range(12), threads=2)
    assert sorted(done) == list(range(12)) and len(set(done.values())) == 2

    def fail(item):
        if item == 7:
            raise ValueError("item 7")

    with pytest.raises(ValueError, match="item 7"):
        on_threads(fail, range(12), threads=2)


def test_one_item_is_done_in_the_calling_thread():
    names = []
    on_threads(lambda _: names.append(threading.current_thread().name), [0], threads=4)
    assert names == [threading.current_thread().name]


def test_results_come_in_order_a_few_ahead_and_an_error_where_its_item_is():
    taken: list[int] = []

    def chunks():
        for number in range(30):
            taken.append(number)
            yield number

    def check(number):
        time.sleep(0.002 * (number % 3))  # later chunks finish first
        if number == 25:
            raise ValueError("chunk 25")
        return number * number

    given = []
    with pytest.raises(ValueError, match="chunk 25"):
        for number, result in in_order_on_threads(check, chunks(), threads=2):
            assert len(taken) <= number + 3  # the chunks given, and at most `threads` ahead
            given.append((number, result))
    assert given == [(number, number * number) for number in range(25)]
