"""Nodes of the ``behaviour`` pipeline: thin calls into ``customer_segmentation.behaviour``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd

from customer_segmentation.behaviour import (
    TransactionSchema,
    behaviour_features,
    check_lines,
    default_as_of,
    rfm_scores,
)
from customer_segmentation.schema import RawSchema
from customer_segmentation.validation import as_chunks

logger = logging.getLogger(__name__)


class RejectedLinesError(RuntimeError):
    """Too many lines of the transaction log were rejected to trust the behaviour features."""


def validate_transactions(
    transactions_raw: pd.DataFrame | Iterable[pd.DataFrame], customers_primary: pd.DataFrame,
    transactions: dict[str, Any], raw_schema: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """Check each line of the log against ``transactions``; keep the good ones, typed.

    Returns:
        The kept lines, the rejected ones (as read, with ``raw_row`` and ``reason``) and a
        summary: lines read, kept and rejected, and rejections per rule and column.

    Raises:
        RejectedLinesError: The rejected share is above ``transactions.max_rejected_share``.
    """
    schema, customers = _schema_and_customers(customers_primary, transactions, raw_schema)
    raw = pd.concat(list(as_chunks(transactions_raw)), ignore_index=True)
    checked = check_lines(raw, schema, customers)
    summary = {
        "lines_raw": len(raw), "lines_kept": len(checked.kept),
        "lines_rejected": len(checked.rejected),
        "rejected_share": len(checked.rejected) / max(len(raw), 1),
        "violations": checked.counts,
    }  # fmt: skip
    logger.info("Transaction log: %d lines = %d kept + %d rejected (%.2f%%); %s",
                len(raw), len(checked.kept), len(checked.rejected),
                100 * summary["rejected_share"], checked.counts)  # fmt: skip
    limit = transactions.get("max_rejected_share", 1.0)
    if summary["rejected_share"] > limit:
        raise RejectedLinesError(
            f"{len(checked.rejected)} of {len(raw)} transaction lines "
            f"({summary['rejected_share']:.1%}) were rejected, above "
            f"transactions.max_rejected_share = {limit:.1%}. Each rejected line and its reason "
            f"is in the `transactions_rejected` dataset; per rule: {checked.counts}"
        )
    return checked.kept, checked.rejected, summary


def compute_behaviour(
    transactions_kept: pd.DataFrame, customers_primary: pd.DataFrame,
    transactions: dict[str, Any], behaviour: dict[str, Any], raw_schema: dict[str, Any],
) -> pd.DataFrame:  # fmt: skip
    """Each customer's behaviour features as of ``behaviour.as_of`` (default: the day after
    the newest line), the identifier first."""
    schema, customers = _schema_and_customers(customers_primary, transactions, raw_schema)
    if schema.unknown_customer == "keep":  # the log's other customers, after the table's
        extra = pd.Index(transactions_kept["customer"].unique()).difference(customers)
        extra = pd.Series(extra, dtype=customers.dtype, name=customers.name)
        customers = pd.concat([customers, extra])
    as_of = (pd.Timestamp(behaviour["as_of"]) if behaviour.get("as_of")
             else default_as_of(transactions_kept))  # fmt: skip
    logger.info("Behaviour features of %d customers as of %s", len(customers), as_of.date())
    features = behaviour_features(transactions_kept, customers, schema, as_of,
                                  behaviour["window_days"])  # fmt: skip
    return features.rename_axis(customers.name).reset_index()  # the identifier's own name


def score_rfm(customer_behaviour: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """R, F and M scores and the named RFM segment of each customer, the identifier first."""
    scores = rfm_scores(customer_behaviour.set_index(id_column))
    logger.info("RFM segments: %s", scores["rfm_segment"].value_counts().to_dict())
    return scores.reset_index()


def _schema_and_customers(
    customers_primary: pd.DataFrame, transactions: dict[str, Any], raw_schema: dict[str, Any]
) -> tuple[TransactionSchema, pd.Series]:
    """The log's layout (customer identifiers typed as the customer table's) and the ids."""
    customer_table = RawSchema.from_params(raw_schema)
    id_column = customer_table.id_column
    dtype = customer_table.columns[id_column].dtype
    return TransactionSchema.from_params(transactions, dtype), customers_primary[id_column]
