"""Behaviour features: this project's aggregation against plain pandas group-bys.

Generates ``--customers`` customers and their order lines (the project's generator, cut to
``--lines`` lines), then computes every behaviour feature twice, each in a process of its own:
``behaviour.behaviour_features`` (NumPy ``bincount``s over integer codes) and the same features
written with pandas group-bys (``tests/behaviour_reference.py``). Prints the seconds of the
aggregation and each process's peak resident memory (the log included); target at most 15 s
and 4 GB for 10,000,000 lines of 1,000,000 customers, and faster than pandas.

Usage: python benchmarks/behaviour.py [--customers 1000000] [--lines 10000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITE_LOG = """
import pandas as pd
from customer_segmentation.data_generator import generate_customers, generate_transactions
table = generate_customers({customers}, seed=1)
log = generate_transactions(table, seed=1).head({lines})
kept = pd.DataFrame({{
    "customer": log["customer_id"], "timestamp": log["timestamp"].astype("datetime64[us]"),
    "value": log["quantity"] * log["unit_price"], "order": log["order_id"].astype("str"),
    "category": log["category"], "channel": log["channel"],
    "cancelled": log["status"] == "Cancelled",
}})
kept.to_parquet({path!r})
table[["ID"]].to_parquet({customers_path!r})
print(len(kept))
"""
AGGREGATE = """
import sys, time
import pandas as pd, yaml
sys.path.insert(0, {root!r})
from customer_segmentation.behaviour import TransactionSchema, behaviour_features, default_as_of
from tests.behaviour_reference import reference_behaviour_features
lines = pd.read_parquet({lines!r})
customers = pd.read_parquet({customers!r})["ID"]
params = yaml.safe_load(open({conf!r}))["transactions"]
schema = TransactionSchema.from_params(params, "int")
aggregate = behaviour_features if {ours} else reference_behaviour_features
started = time.perf_counter()
features = aggregate(lines, customers, schema, default_as_of(lines), 365)
print(time.perf_counter() - started, len(features))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lines, customers = Path(folder) / "lines.parquet", Path(folder) / "customers.parquet"
        count = _write_log(args.customers, args.lines, lines, customers)
        print(f"{count:,} order lines of {args.customers:,} customers", flush=True)
        engines = (("this project", True), ("pandas group-bys", False))
        results = {name: _aggregate(lines, customers, ours) for name, ours in engines}
    print(f"{'':>18}{'seconds':>10}{'peak GB':>10}")
    for name, (seconds, peak) in results.items():
        print(f"{name:>18}{seconds:>10.1f}{peak / 2**30:>10.2f}")
    (ours, our_peak), (theirs, _) = results.values()
    print(f"this project: {theirs / ours:.1f}x faster than pandas group-bys; target <= 15 s "
          f"and 4 GB: {'met' if ours <= 15 and our_peak <= 4 * 2**30 else 'NOT met'}")  # fmt: skip


def _write_log(customers: int, lines: int, path: Path, customers_path: Path) -> int:
    """The generator's customers and the first ``lines`` of their log, as kept lines.

    Written by a process of its own: a child forked from a large parent would count the
    parent's pages in its peak memory.
    """
    result = subprocess.run([sys.executable, "-c", WRITE_LOG.format(
        customers=customers, lines=lines, path=str(path), customers_path=str(customers_path))],
        capture_output=True, text=True, check=True)  # fmt: skip
    return int(result.stdout.split()[-1])


def _aggregate(lines: Path, customers: Path, ours: bool) -> tuple[float, int]:
    """Seconds of the aggregation and the peak resident bytes of its process."""
    code = AGGREGATE.format(root=str(ROOT), lines=str(lines), customers=str(customers),
                            conf=str(ROOT / "conf" / "base" / "parameters_behaviour.yml"),
                            ours=ours)  # fmt: skip
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([sys.executable, "-c", code], stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        output.seek(0)
        text = output.read().decode()
    if status:
        sys.exit(f"the aggregation failed:\n{text[-3000:]}")
    return float(text.split()[-2]), usage.ru_maxrss * 1024


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s in all)")
