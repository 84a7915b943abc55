"""K-Prototypes: this project's ``fast`` engine against the ``kmodes`` package.

Same data (the project's generator: scaled Age and Income, five categorical columns), same
k, gamma and n_init, in the same run. Both costs are computed with kmodes' own formula
(``kmodes.kprototypes.labels_cost``). kmodes runs at 2,000 and 20,000 rows (it loops over
points in Python: minutes at 20,000); ``fast`` also at 200,000 and 1,000,000.

Usage: python benchmarks/kprototypes.py [--k 4] [--n-init 10] [--kmodes-rows 2000 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from kmodes.kprototypes import labels_cost
from kmodes.util.dissim import euclidean_dissim, matching_dissim

from customer_segmentation.data_generator import generate_customers
from customer_segmentation.kprototypes import KPrototypes

NUMERIC = ["Age", "Income"]
CATEGORICAL = ["Sex", "Marital status", "Education", "Occupation", "Settlement size"]


def mixed_data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    customers = generate_customers(rows, seed=rows)
    numeric = customers[NUMERIC].to_numpy(dtype="float64")
    return (numeric - numeric.mean(axis=0)) / numeric.std(axis=0), customers[CATEGORICAL].to_numpy()


def fit(
    engine: str, numeric, categorical, k: int, n_init: int, n_jobs: int | None = None
) -> tuple[float, float]:
    started = time.perf_counter()
    columns = list(range(numeric.shape[1], numeric.shape[1] + categorical.shape[1]))
    model = KPrototypes(k, categorical=columns, n_init=n_init, random_state=0, engine=engine,
                        n_jobs=n_jobs)  # fmt: skip
    model.fit(np.hstack([numeric, categorical]))
    seconds = time.perf_counter() - started
    centroids = (model.numeric_centroids_, model.categorical_centroids_)
    cost = labels_cost(numeric, categorical, centroids, euclidean_dissim, matching_dissim,
                       model.gamma_)[1]  # fmt: skip
    return seconds, float(cost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--kmodes-rows", type=int, nargs="*", default=[2_000, 20_000])
    parser.add_argument("--fast-rows", type=int, nargs="*", default=[200_000, 1_000_000])
    parser.add_argument("--n-jobs", type=int, default=-1, help="threads of the fast engine")
    args = parser.parse_args()
    print(f"K-Prototypes, k={args.k}, n_init={args.n_init}: kmodes in one process, the fast "
          f"engine on n_jobs={args.n_jobs} threads (same labels and cost as one)")
    started = time.perf_counter()
    fit("fast", *mixed_data(100), 2, 1)
    print(f"(fast engine: {time.perf_counter() - started:.2f} s once per process to load or "
          "compile its numba code, not counted below)")  # fmt: skip
    _row("rows", "kmodes s", "fast s", "speed-up", "kmodes cost", "fast cost", "cost ratio")
    for rows in [*args.kmodes_rows, *args.fast_rows]:
        numeric, categorical = mixed_data(rows)
        fast_seconds, fast_cost = fit("fast", numeric, categorical, args.k, args.n_init,
                                      args.n_jobs)  # fmt: skip
        if rows not in args.kmodes_rows:
            _row(f"{rows:,}", "-", f"{fast_seconds:.2f}", "-", "-", f"{fast_cost:.1f}", "-")
            continue
        kmodes_seconds, kmodes_cost = fit("kmodes", numeric, categorical, args.k, args.n_init)
        _row(
            f"{rows:,}", f"{kmodes_seconds:.2f}", f"{fast_seconds:.2f}",
            f"{kmodes_seconds / fast_seconds:.0f}x", f"{kmodes_cost:.1f}", f"{fast_cost:.1f}",
            f"{fast_cost / kmodes_cost:.4f}",
        )  # fmt: skip


def _row(*cells: str) -> None:
    print("".join(f"{cell:>13}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
