"""The behaviour features written the plain way, with pandas group-bys: the reference that
``behaviour.behaviour_features`` (NumPy ``bincount``s) is checked against, in
``tests/test_behaviour.py``, and timed against, in ``benchmarks/behaviour.py``."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from customer_segmentation.behaviour import BASE_FEATURES, OTHER, TransactionSchema


def reference_behaviour_features(
    lines: pd.DataFrame, customers: pd.Series, schema: TransactionSchema,
    as_of: pd.Timestamp, window_days: float,
) -> pd.DataFrame:  # fmt: skip
    """``behaviour.behaviour_features`` written with plain pandas group-bys: the reference."""
    lines = lines[lines["timestamp"] < as_of]
    span = (as_of - lines["timestamp"].min()) / pd.Timedelta(days=1) if len(lines) else 0.0
    bought, returned = lines[~lines["cancelled"]], lines[lines["cancelled"]]
    orders = bought.groupby(["customer", "order"], sort=False).agg(
        time=("timestamp", "min"), value=("value", "sum"))  # fmt: skip
    by_customer = orders.groupby(level="customer")
    first, last = by_customer["time"].min(), by_customer["time"].max()
    frequency = by_customer.size()
    days_before = (as_of - orders["time"]) / pd.Timedelta(days=1)
    in_window = orders[(days_before <= window_days).to_numpy()].groupby(level="customer").size()
    total = by_customer["value"].sum()
    months = orders["time"].dt.to_period("M")
    active = months.groupby(level="customer").nunique()
    between = ((last - first) / pd.Timedelta(days=1) / (frequency - 1)).where(frequency > 1)
    recency = (as_of - last) / pd.Timedelta(days=1)
    features = pd.DataFrame({
        "recency_days": recency,
        "frequency": frequency,
        "frequency_window": in_window,
        "monetary_total": total,
        "monetary_mean": total / frequency,
        "tenure_days": (as_of - first) / pd.Timedelta(days=1),
        "mean_days_between_orders": between.fillna(recency),  # one order: since that order
        "active_months": active,
    }).reindex(pd.Index(customers.to_numpy(), name="customer"))  # fmt: skip
    shares = [_shares(bought, "category", schema.categories, total, features.index)
              if "category" in schema.columns else None,
              _shares(bought, "channel", schema.channels, total, features.index)
              if "channel" in schema.columns else None]  # fmt: skip
    returned_value = returned["value"].abs().groupby(returned["customer"]).sum()
    returned_value = returned_value.reindex(features.index, fill_value=0.0)
    bought_value = total.reindex(features.index, fill_value=0.0)
    gross = bought_value.abs() + returned_value
    features["return_share"] = (returned_value / gross.where(gross > 0)).fillna(0.0)
    none = features["frequency"].isna()
    features["no_transactions"] = none.astype("int64")
    defaults = {"recency_days": span, "frequency": 0, "frequency_window": 0,
                "monetary_total": 0.0, "monetary_mean": 0.0, "tenure_days": 0.0,
                "mean_days_between_orders": span, "active_months": 0}  # fmt: skip
    features = features.fillna(defaults).astype({
        "frequency": "int64", "frequency_window": "int64", "active_months": "int64"})  # fmt: skip
    parts = [features[list(BASE_FEATURES)], *[part for part in shares if part is not None],
             features[["return_share", "no_transactions"]]]  # fmt: skip
    return pd.concat(parts, axis=1)[list(schema.feature_columns)]


def _shares(bought: pd.DataFrame, role: str, kept: Sequence[str], total: pd.Series,
            customers: pd.Index) -> pd.DataFrame:  # fmt: skip
    """Each customer's share of spend per value of ``role`` (``kept`` and ``other``)."""
    spend = bought.pivot_table(index="customer", columns=role, values="value", aggfunc="sum",
                               fill_value=0.0)  # fmt: skip
    spend = spend.reindex(columns=[*kept, OTHER], fill_value=0.0)
    shares = spend.div(total.where(total != 0), axis=0).fillna(0.0)
    shares.columns = [f"{role}_share_{name}" for name in shares.columns]
    return shares.reindex(customers, fill_value=0.0)
