"""Servers started by tests: on a free 127.0.0.1 port, stopped with their process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running_server(
    command: list[str], cwd: Path, env: dict[str, str], ready_path: str, seconds: float = 90
) -> Iterator[str]:
    """Run ``command`` (``{port}`` in it is replaced) until ``ready_path`` answers.

    Yields:
        The server's base URL, ``http://127.0.0.1:<port>``.
    """
    port = free_port()
    server = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command], cwd=cwd, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}{ready_path}", server, seconds)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")
