"""Seeded generator of the embedded customer table ``data/01_raw/customers.csv``.

The public "Customer Analytics in Python" data set is not shipped. Instead, customers are
drawn from four archetypes whose shares and per-column distributions were measured on
that data (a 4-cluster K-Means on standardised columns): so the generated table has the
same schema, similar marginals and correlations, and real segments to find.

Usage::

    python -m customer_segmentation.data_generator --rows 2000 --seed 2026 \
        --output data/01_raw/customers.csv
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

FIRST_ID = 100_000_001
AGE_RANGE = (18, 76)
LOG_INCOME_RANGE = (10.45, 12.70)  # about 34,600 to 328,000 USD

# One entry per archetype, measured on the public data. Categorical entries are the
# probabilities of codes 0, 1, 2, ...; income is log-normal given the occupation code.
ARCHETYPES = {
    "share": [0.352, 0.285, 0.231, 0.132],
    "female": [0.85, 0.03, 0.35, 0.50],
    "non_single": [0.97, 0.17, 0.02, 0.69],
    "age_mean": [29.0, 35.6, 35.6, 55.7],
    "age_sd": [6.8, 8.5, 8.7, 10.5],
    "education": [
        [0.0, 0.93, 0.07, 0.0],
        [0.27, 0.73, 0.0, 0.0],
        [0.29, 0.67, 0.04, 0.0],
        [0.0, 0.01, 0.85, 0.14],
    ],
    "occupation": [[0.38, 0.60, 0.02], [0.02, 0.69, 0.29], [0.67, 0.33, 0.0], [0.16, 0.56, 0.28]],
    "settlement": [[0.67, 0.24, 0.09], [0.02, 0.44, 0.54], [0.96, 0.04, 0.0], [0.25, 0.40, 0.35]],
    "log_income_mean": [
        [11.35, 11.65, 11.95],
        [11.76, 11.77, 11.98],
        [11.37, 11.66, 11.66],
        [11.64, 11.87, 12.22],
    ],
    "log_income_sd": [
        [0.27, 0.15, 0.12],
        [0.20, 0.20, 0.22],
        [0.24, 0.11, 0.11],
        [0.22, 0.16, 0.21],
    ],
}


def generate_customers(rows: int, seed: int) -> pd.DataFrame:
    """Draw ``rows`` customers with the reference schema.

    Args:
        rows: Number of customers.
        seed: Seed of NumPy's random generator; the same seed gives the same table.

    Returns:
        Columns ``ID, Sex, Marital status, Age, Education, Income, Occupation,
        Settlement size``, all integers, IDs consecutive from 100000001.
    """
    rng = np.random.default_rng(seed)
    archetype = _archetypes(rng, rows)

    def per_row(name: str) -> np.ndarray:
        return np.asarray(ARCHETYPES[name])[archetype]

    occupation = _draw_codes(rng, per_row("occupation"))
    log_income = rng.normal(
        np.take_along_axis(per_row("log_income_mean"), occupation[:, None], axis=1)[:, 0],
        np.take_along_axis(per_row("log_income_sd"), occupation[:, None], axis=1)[:, 0],
    )
    age = rng.normal(per_row("age_mean"), per_row("age_sd"))
    return pd.DataFrame(
        {
            "ID": np.arange(FIRST_ID, FIRST_ID + rows, dtype="int64"),
            "Sex": (rng.random(rows) < per_row("female")).astype("int64"),
            "Marital status": (rng.random(rows) < per_row("non_single")).astype("int64"),
            "Age": np.clip(np.rint(age), *AGE_RANGE).astype("int64"),
            "Education": _draw_codes(rng, per_row("education")),
            "Income": np.rint(np.exp(np.clip(log_income, *LOG_INCOME_RANGE))).astype("int64"),
            "Occupation": occupation,
            "Settlement size": _draw_codes(rng, per_row("settlement")),
        }
    )


def _archetypes(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Each customer's archetype: the generator's first draw, so a seed fixes it."""
    share = np.asarray(ARCHETYPES["share"])
    return rng.choice(len(share), size=rows, p=share / share.sum())


# How each archetype buys (same order as ARCHETYPES): orders a year, the median order
# value, how many stop buying within the two years, and their category and channel mix.
BEHAVIOUR = {
    "orders_per_year": [5.0, 2.5, 1.2, 3.5],
    "median_order_value": [45.0, 120.0, 35.0, 160.0],
    "churned": [0.10, 0.25, 0.45, 0.15],
    "categories": [[0.45, 0.35, 0.10, 0.10], [0.15, 0.20, 0.40, 0.25],
                   [0.60, 0.25, 0.05, 0.10], [0.20, 0.15, 0.25, 0.40]],
    "channels": [[0.70, 0.10, 0.20], [0.45, 0.45, 0.10], [0.15, 0.80, 0.05],
                 [0.30, 0.60, 0.10]],
    "cancelled": [0.05, 0.03, 0.02, 0.04],
}  # fmt: skip
CATEGORIES = ("groceries", "fashion", "electronics", "home")
CHANNELS = ("web", "store", "app")
LOG_START = pd.Timestamp("2024-01-01")
LOG_DAYS = 730


def generate_transactions(customers: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Draw two years of order lines (from ``LOG_START``) for ``generate_customers(rows, seed)``.

    Each customer buys as their archetype does (``BEHAVIOUR``): Poisson orders at their
    rate, until a churn day for those who stop; one to four lines an order, in categories
    and channels of the archetype's mix; some orders cancelled.

    Returns:
        Columns ``order_id, customer_id, timestamp, category, channel, quantity, unit_price,
        status``, in time order.
    """
    archetype = _archetypes(np.random.default_rng(seed), len(customers))
    rng = np.random.default_rng([seed, 1])

    def per_customer(name: str) -> np.ndarray:
        return np.asarray(BEHAVIOUR[name])[archetype]

    active_days = np.where(rng.random(len(customers)) < per_customer("churned"),
                           rng.uniform(30, LOG_DAYS, len(customers)), LOG_DAYS)  # fmt: skip
    orders = rng.poisson(per_customer("orders_per_year") * active_days / 365)
    owner = np.repeat(np.arange(len(customers)), orders)
    day = rng.uniform(0, active_days[owner])
    lines = rng.integers(1, 5, len(owner))
    line_owner, line_order = np.repeat(owner, lines), np.repeat(np.arange(len(owner)), lines)
    value = rng.lognormal(np.log(per_customer("median_order_value")[line_owner] / 2.5), 0.5)
    quantity = rng.integers(1, 4, len(line_owner))
    cancelled = rng.random(len(owner)) < per_customer("cancelled")[owner]
    categories = _draw_codes(rng, per_customer("categories")[line_owner])
    channels = _draw_codes(rng, per_customer("channels")[owner])  # one channel an order
    log = pd.DataFrame({
        "order_id": 500_000 + line_order,
        "customer_id": customers["ID"].to_numpy()[line_owner],
        "timestamp": (LOG_START + pd.to_timedelta(np.round(day[line_order] * 1440), "min")),
        "category": np.asarray(CATEGORIES)[categories],
        "channel": np.asarray(CHANNELS)[channels][line_order],
        "quantity": quantity,
        "unit_price": np.round(value / quantity, 2),
        "status": np.where(cancelled[line_order], "Cancelled", "Shipped"),
    })  # fmt: skip
    log = log.sort_values(["timestamp", "order_id"], kind="stable").reset_index(drop=True)
    log["order_id"] = pd.factorize(log["order_id"])[0] + 500_000  # numbered in time order
    return log


def _draw_codes(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one code per row from that row's probabilities over codes 0..n-1."""
    cumulative = probabilities.cumsum(axis=1)
    cumulative /= cumulative[:, -1:]
    return (rng.random(len(probabilities))[:, None] > cumulative).sum(axis=1).astype("int64")


def main(argv: list[str] | None = None) -> None:
    """Write a generated customer table to CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=Path("data/01_raw/customers.csv"))
    parser.add_argument("--transactions", type=Path, default=None,
                        help="also write their two years of order lines here")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    customers = generate_customers(args.rows, args.seed)
    customers.to_csv(args.output, index=False)
    logger.info("Wrote %d generated customers (seed %d) to %s", args.rows, args.seed, args.output)
    if args.transactions:
        log = generate_transactions(customers, args.seed)
        log.to_csv(args.transactions, index=False, date_format="%Y-%m-%d %H:%M:%S")
        logger.info("Wrote their %d order lines to %s", len(log), args.transactions)


if __name__ == "__main__":
    main()
