"""Scale: the default training run on Spark (``local[2]``) and on pandas, at growing sizes.

For each size (customers; 1 % of rows broken, so that rows are rejected too) it generates
a raw file, then runs ``kedro run --env=spark`` and the pandas path (``kedro run`` of the
same customer table, K-Means and K-Prototypes) in a temporary copy of the project, tracking
off, and prints wall time and peak memory. For each size of ``--lines`` it generates an
order log of that many lines (and its customers), and runs the ``behaviour`` pipeline on
both engines: the log's checks, every customer's behaviour features and RFM scores. The
peaks are sampled from ``/proc`` every half second over the whole process tree: Spark's
driver and executors share one JVM in local mode, and its Python side is the driver process
plus the executors' Python workers. The pandas path stops being tried at the first size it
fails or passes ``--timeout``.

Usage: python benchmarks/spark_scale.py [--sizes 1000000 5000000 10000000]
       [--lines 10000000 100000000] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from project_copy import project_copy

CHUNK = 1_000_000
LINES_PER_CUSTOMER = 14.8  # of the generated log, on average


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 5_000_000, 10_000_000])
    parser.add_argument("--lines", type=int, nargs="*", default=[10_000_000, 100_000_000])
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as folder:
        project = project_copy(Path(folder))
        stopped = ""
        for size in args.sizes:  # the customer table alone
            raw = project / "data" / "01_raw" / f"customers_{size}.csv"
            _write_raw_file(raw, size)
            stopped = _both(rows, f"{size:,} customers", project, [],
                            {"raw_data_path": raw, "segment_on": "customers"}, stopped,
                            args.timeout)  # fmt: skip
            raw.unlink()
        stopped = ""
        for lines in args.lines:  # an order log: its checks, behaviour features and RFM
            raw = project / "data" / "01_raw" / f"customers_{lines}.csv"
            log = project / "data" / "01_raw" / f"transactions_{lines}.csv"
            _write_log(raw, log, lines)
            stopped = _both(rows, f"{lines:,} lines", project, ["--pipelines=behaviour"],
                            {"raw_data_path": raw, "transactions_data_path": log,
                             "segment_on": "both"}, stopped, args.timeout)  # fmt: skip
            raw.unlink()
            log.unlink()
        print(_table(rows))


def _both(rows: list[tuple[str, ...]], size: str, project: Path, options: list[str],
          params: dict, pandas_stopped: str, timeout: float) -> str:  # fmt: skip
    """Measure a run on Spark, then on pandas unless it stopped at a smaller size; returns
    why pandas stopped, if it did."""
    spark = _measure(["--env=spark", *options], params, project, timeout)
    rows.append((size, "spark local[2]", *spark))
    if pandas_stopped:
        rows.append((size, "pandas", pandas_stopped, "", "", ""))
    else:
        measured = _measure(options, params, project, timeout)
        rows.append((size, "pandas", *measured))
        if not measured[0].replace(".", "").isdigit():
            pandas_stopped = f"not tried ({measured[0]} at a smaller size)"
    print(_table(rows), flush=True)
    return pandas_stopped


def _measure(options: list[str], params: dict, project: Path, timeout: float
             ) -> tuple[str, ...]:  # fmt: skip
    """Seconds and peak GB (JVM, Python, whole tree) of ``kedro run OPTIONS --params``."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "CUSTOMER_SEGMENTATION_TRACKING": "off", "PYSPARK_PYTHON": sys.executable}  # fmt: skip
    values = ",".join(f"{name}={value}" for name, value in params.items())
    command = [sys.executable, "-m", "kedro", "run", *options, f"--params={values}"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=log)
        peaks = _PeakSampler(process.pid)
        peaks.start()
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = "timeout"
        peaks.stop()
        seconds = time.perf_counter() - started
        if status:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-1500:]
            print(f"{' '.join(command)}: {status}\n{tail}", file=sys.stderr)
            return ("timeout" if status == "timeout" else "failed", "", "", "")
    gb = [f"{peak / 2**30:.2f}" if peak else "–" for peak in (peaks.jvm, peaks.python, peaks.total)]
    return (f"{seconds:.0f}", *gb)


class _PeakSampler(threading.Thread):
    """Peak resident memory of a process tree, split into its JVMs and the rest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.jvm, self.python, self.total = pid, 0, 0, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            jvm = python = 0
            for pid in _tree(self.pid):
                rss, name = _rss_and_name(pid)
                if name == "java":
                    jvm += rss
                else:
                    python += rss
            self.jvm, self.python = max(self.jvm, jvm), max(self.python, python)
            self.total = max(self.total, jvm + python)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return found


def _rss_and_name(pid: int) -> tuple[int, str]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, ""
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    return rss, fields.get("Name", "").strip()


def _write_raw_file(path: Path, rows: int) -> None:
    """``rows`` generated customers with unique IDs, 1 % broken, written a chunk at a time."""
    from customer_segmentation.data_generator import generate_customers

    written = 0
    with path.open("w", encoding="utf-8") as file:
        for seed, start in enumerate(range(0, rows, CHUNK)):
            chunk = generate_customers(min(CHUNK, rows - start), seed=seed)
            chunk["ID"] += start
            broken = np.random.default_rng(seed).random(len(chunk)) < 0.01
            chunk["Age"] = chunk["Age"].astype(str).where(~broken, "unknown")
            chunk.to_csv(file, index=False, header=written == 0)
            written += len(chunk)
    print(f"{path.name}: {written:,} rows, {path.stat().st_size / 2**20:,.0f} MB", flush=True)


def _write_log(customers_path: Path, log_path: Path, lines: int) -> None:
    """About ``lines`` order lines of generated customers (0.1 % of lines broken), and the
    customer table they belong to, written a chunk of customers at a time."""
    from customer_segmentation.data_generator import generate_customers, generate_transactions

    customers = max(1, round(lines / LINES_PER_CUSTOMER))
    written = 0
    with customers_path.open("w", encoding="utf-8") as table, log_path.open("w") as log:
        for seed, start in enumerate(range(0, customers, CHUNK // 10)):
            chunk = generate_customers(min(CHUNK // 10, customers - start), seed=seed)
            order_lines = generate_transactions(chunk, seed=seed)
            chunk["ID"] += start
            order_lines["customer_id"] += start
            order_lines["order_id"] = order_lines["order_id"].astype(str) + f"-{seed}"
            broken = np.random.default_rng(seed).random(len(order_lines)) < 0.001
            order_lines["quantity"] = order_lines["quantity"].astype(str).where(~broken, "x")
            chunk.to_csv(table, index=False, header=start == 0)
            order_lines.to_csv(log, index=False, header=start == 0)
            written += len(order_lines)
    print(f"{log_path.name}: {written:,} lines of {customers:,} customers, "
          f"{log_path.stat().st_size / 2**30:,.1f} GB", flush=True)


def _table(rows: list[tuple[str, ...]]) -> str:
    header = ("size", "engine", "seconds", "JVM peak GB", "Python peak GB", "total peak GB")
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    lines += [" | ".join(row) for row in rows]
    return "\n".join(f"| {line} |" for line in lines)


if __name__ == "__main__":
    main()
