"""Nodes of the ``behaviour`` pipeline: thin calls into ``customer_segmentation.behaviour``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd

from customer_segmentation.behaviour import (
    BehaviourSpec,
    as_of_date,
    behaviour_features,
    check_lines,
    customer_attributes,
    default_as_of,
    distinct_identifiers,
    join_behaviour,
    rfm_scores,
)
from customer_segmentation.features import FeatureSpec
from customer_segmentation.validation import as_chunks, check_columns, no_rows, whole_table

logger = logging.getLogger(__name__)
Chunks = pd.DataFrame | Iterable[pd.DataFrame]


class RejectedLinesError(RuntimeError):
    """Too many lines of the transaction log were rejected to trust the behaviour features."""


def behaviour_settings(
    transactions: dict[str, Any], behaviour: dict[str, Any], raw_schema: dict[str, Any]
) -> BehaviourSpec:
    """The log's layout and the feature window, with customer identifiers typed as the
    customer table's."""
    return BehaviourSpec.from_params(transactions, behaviour, raw_schema)


def customer_identifiers(
    customers_raw: Chunks, raw_schema: dict[str, Any], features: dict[str, Any],
    raw_data_path: str, behaviour_spec: BehaviourSpec,
) -> pd.Series:  # fmt: skip
    """The distinct identifiers of the customer table that parse: the customers described.

    The table's whole-file problems stop the run here, as ``data_processing`` would stop it,
    before its customers are looked for in the log.

    Raises:
        RawDataError: The table lacks a column of ``raw_schema``, or has no rows.
    """
    spec = FeatureSpec.from_params(raw_schema, features)
    dtype, parts, rows = behaviour_spec.schema.customer_dtype, [], 0
    for chunk in as_chunks(customers_raw):
        if not parts:
            check_columns(chunk, spec, raw_data_path, joined=behaviour_spec.schema.feature_columns)
        parts.append(distinct_identifiers(chunk[spec.id_column], dtype, spec.id_column))
        rows += len(chunk)
    if not rows:
        raise no_rows(raw_data_path)
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def validate_transactions(
    transactions_raw: Chunks, behaviour_customers: pd.Series | None,
    behaviour_spec: BehaviourSpec, max_rejected_share: float,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """Check each line of the log; keep the good ones, typed.

    Returns:
        The kept lines, the rejected ones (as read, with ``raw_row`` and ``reason``) and a
        summary: lines read, kept and rejected, and rejections per rule and column.

    Raises:
        RejectedLinesError: The rejected share is above ``transactions.max_rejected_share``.
    """
    raw = whole_table(transactions_raw)
    checked = check_lines(raw, behaviour_spec.schema, behaviour_customers)
    summary = lines_summary(len(raw), len(checked.rejected), checked.counts, max_rejected_share)
    return checked.kept, checked.rejected, summary


def lines_summary(lines: int, rejected: int, counts: dict[str, dict[str, int]],
                  max_rejected_share: float) -> dict[str, Any]:  # fmt: skip
    """The summary of a checked log: lines read, kept and rejected, and rejections per rule
    and column; logged.

    Raises:
        RejectedLinesError: The rejected share is above ``max_rejected_share``.
    """
    summary = {
        "lines_raw": lines, "lines_kept": lines - rejected, "lines_rejected": rejected,
        "rejected_share": rejected / max(lines, 1), "violations": counts,
    }  # fmt: skip
    logger.info("Transaction log: %d lines = %d kept + %d rejected (%.2f%%); %s",
                lines, lines - rejected, rejected, 100 * summary["rejected_share"],
                counts)  # fmt: skip
    if summary["rejected_share"] > max_rejected_share:
        unknown = sum(counts.get("unknown_customer", {}).values())
        hint = (" Most are of customers the customer table does not hold: is this the log of "
                "these customers? Give theirs (`--params=transactions_data_path=...`), or "
                "segment on the table alone (`--params=segment_on=customers`)."
                if unknown > rejected / 2 else "")  # fmt: skip
        raise RejectedLinesError(
            f"{rejected} of {lines} transaction lines "
            f"({summary['rejected_share']:.1%}) were rejected, above "
            f"transactions.max_rejected_share = {max_rejected_share:.1%}. Each rejected line "
            f"and its reason is in the `transactions_rejected` dataset; per rule: "
            f"{counts}.{hint}"
        )
    return summary


def validate_log(
    transactions_raw: Chunks, behaviour_spec: BehaviourSpec, max_rejected_share: float
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """``validate_transactions`` of a log without a customer table: every customer counts."""
    return validate_transactions(transactions_raw, None, behaviour_spec, max_rejected_share)


def log_customers(transactions_kept: pd.DataFrame, id_column: str) -> pd.Series:
    """The customers of a log without a customer table: each one with a kept line."""
    return pd.Series(transactions_kept["customer"].unique(), name=id_column)


def compute_behaviour(
    transactions_kept: pd.DataFrame, behaviour_customers: pd.Series,
    behaviour_spec: BehaviourSpec, as_of: Any,
) -> pd.DataFrame:  # fmt: skip
    """Each customer's behaviour features as of ``behaviour.as_of`` (default: the day after
    the newest line), the identifier first, then their attributes (``transactions.attributes``)."""
    customers = behaviour_customers
    if behaviour_spec.schema.unknown_customer == "keep":  # the log's others, after the table's
        extra = pd.Index(transactions_kept["customer"].unique()).difference(customers)
        customers = pd.concat([customers, pd.Series(extra, dtype=customers.dtype,
                                                    name=customers.name)])  # fmt: skip
    date = as_of_date(as_of) or default_as_of(transactions_kept)
    logger.info("Behaviour features of %d customers as of %s", len(customers), date.date())
    schema = behaviour_spec.schema
    features = behaviour_features(transactions_kept, customers, schema, date,
                                  behaviour_spec.window_days)  # fmt: skip
    if schema.attributes:  # each customer's most frequent country, say
        features = features.join(customer_attributes(transactions_kept, customers,
                                                     schema.attributes))  # fmt: skip
    return features.rename_axis(customers.name).reset_index()  # the identifier's own name


def score_rfm(customer_behaviour: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """R, F and M scores and the named RFM segment of each customer, the identifier first."""
    scores = rfm_scores(customer_behaviour.set_index(id_column))
    logger.info("RFM segments: %s", scores["rfm_segment"].value_counts().to_dict())
    return scores.reset_index()


def join_customer_behaviour(
    customers_raw: Chunks, customer_behaviour: pd.DataFrame, id_column: str,
    behaviour_spec: BehaviourSpec,
) -> Iterable[pd.DataFrame]:  # fmt: skip
    """The customer table, chunk by chunk as read, with each customer's behaviour features:
    the table ``data_processing`` checks when a run segments on both."""
    behaviour = customer_behaviour.set_index(id_column)[list(behaviour_spec.schema.feature_columns)]
    dtype = behaviour_spec.schema.customer_dtype
    return map(lambda chunk: join_behaviour(chunk, behaviour, id_column, dtype),
               as_chunks(customers_raw))  # a map, not a generator: Kedro passes it on whole
