"""Memory: peak resident size of ``kedro run --pipelines=data_processing`` on a large raw file.

Generates a raw customer file of ``--megabytes`` (1,024 by default: about 34 million rows;
1 % of them broken, so that rows are rejected too), runs the data-processing pipeline on it
in a temporary copy of the project, and prints the run's peak resident memory as a multiple
of the file's size (target under 3x), with the reference: the same file read whole by
``pandas.read_csv`` with its default types, in a process of its own.

Usage: python benchmarks/memory.py [--megabytes 1024]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from project_copy import project_copy

ROWS_PER_CHUNK = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1024.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = project_copy(Path(folder))
        raw = project / "data" / "01_raw" / "large.csv"
        rows = _write_raw_file(raw, args.megabytes * 2**20)
        size = raw.stat().st_size
        print(f"raw file: {size / 2**20:,.0f} MB, {rows:,} rows", flush=True)
        read_whole = f"import pandas; pandas.read_csv({str(raw)!r})"
        reference = _peak_of([sys.executable, "-c", read_whole], project)
        run = _peak_of([sys.executable, "-m", "kedro", "run", "--pipelines=data_processing",
                        "--params", f"raw_data_path={raw}"], project)  # fmt: skip
    print(f"{'':>40}{'peak MB':>10}{'x file':>9}{'seconds':>9}")
    for name, (peak, seconds) in (("pandas.read_csv, default types", reference),
                                  ("kedro run --pipelines=data_processing", run)):  # fmt: skip
        print(f"{name:>40}{peak / 2**20:>10,.0f}{peak / size:>9.2f}{seconds:>9.0f}")
    print(f"data_processing peak: {run[0] / size:.2f}x the file (target < 3x); "
          f"{run[0] / reference[0]:.2f}x what pandas.read_csv alone needs")  # fmt: skip


def _write_raw_file(path: Path, size: float) -> int:
    """Generated customers with unique IDs, chunk by chunk, until the file reaches ``size``."""
    from customer_segmentation.data_generator import generate_customers

    rows, seed = 0, 0
    with path.open("w", encoding="utf-8") as file:
        while file.tell() < size:
            chunk = generate_customers(ROWS_PER_CHUNK, seed=seed)
            chunk["ID"] += rows
            broken = np.random.default_rng(seed).random(len(chunk)) < 0.01
            chunk["Age"] = chunk["Age"].astype(str).where(~broken, "unknown")
            chunk.to_csv(file, index=False, header=rows == 0)
            rows, seed = rows + len(chunk), seed + 1
            print(f"  writing the raw file: {file.tell() / 2**20:,.0f} MB", flush=True)
    return rows


def _peak_of(command: list[str], project: Path) -> tuple[int, float]:
    """Peak resident bytes and seconds of ``command`` in a process of its own."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "CUSTOMER_SEGMENTATION_TRACKING": "off"}  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        pid = subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=log).pid
        _, status, usage = os.wait4(pid, 0)
        if status:
            log.seek(0)
            sys.exit(f"{' '.join(command)} failed:\n{log.read().decode()[-3000:]}")
    return usage.ru_maxrss * 1024, time.perf_counter() - started


if __name__ == "__main__":
    main()
