"""Servers started by tests: on a free 127.0.0.1 port, stopped with their process group."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


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


@contextmanager
def running_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1, its data in a temporary folder; stopped and
    removed on exit.

    Uses Debian's ``postgresql`` binaries. PostgreSQL refuses to run as root, so as root the
    server runs as the ``postgres`` user on a folder it owns (under the system's temporary
    folder: pytest's own are private to root).

    Yields:
        Its SQLAlchemy URL, ``postgresql+psycopg://postgres@127.0.0.1:<port>/postgres``.
    """
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not binaries:
        pytest.skip("PostgreSQL is not installed (Debian's postgresql; make test installs it "
                    "where apt-get may run)")  # fmt: skip
    bin_dir = binaries[-1].parent
    with tempfile.TemporaryDirectory(prefix="customer-segmentation-pg-") as folder:
        data = Path(folder) / "pgdata"
        data.mkdir()
        as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            shutil.chown(data, "postgres")
            as_owner = ["runuser", "-u", "postgres", "--"]
        yield from _postgres(bin_dir, data, as_owner)


def _postgres(bin_dir: Path, data: Path, as_owner: list[str]) -> Iterator[str]:
    run = functools.partial(subprocess.run, check=True, capture_output=True, timeout=120)
    run([*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {data}"
    log = data / "server.log"  # the server's output: not a pipe that `run` would wait on
    run([*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
         "-w", "start"])  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
