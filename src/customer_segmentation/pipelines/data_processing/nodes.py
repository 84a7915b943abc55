"""Nodes that check raw customers against ``raw_schema`` and quarantine bad rows."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd

from customer_segmentation.behaviour import BehaviourSpec, derived_columns
from customer_segmentation.features import FeatureSpec
from customer_segmentation.validation import ContentHash, as_chunks, split_chunks

logger = logging.getLogger(__name__)


class RejectedShareError(RuntimeError):
    """Too many raw rows were rejected for the run to go on."""


def validate_customers(
    customers_raw: pd.DataFrame | Iterable[pd.DataFrame],
    raw_schema: dict[str, Any],
    features: dict[str, Any],
    raw_data_path: str,
    behaviour_spec: BehaviourSpec | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split raw customers into valid rows and rejected rows with a reason each.

    Args:
        customers_raw: The raw customer table as read: one DataFrame, or its row chunks (a
            raw dataset read with ``chunksize``), checked a few at a time.
        raw_schema: The ``raw_schema`` parameter.
        features: The ``features`` parameter (a transform's domain is a row rule too).
        raw_data_path: Path of the raw file, named in error messages.
        behaviour_spec: Where the run segments on behaviour: how the table's behaviour
            columns were derived (those not segmented on are expected, and not warned about).

    Returns:
        The valid rows with the schema's columns and dtypes; the rejected rows as read, with
        ``raw_row`` (0-based data row in the file) and ``reason``; the data-quality summary,
        with ``raw_data_sha256``, the content hash of the table read.

    Raises:
        RawDataError: The file has no rows or lacks a required column.
    """
    digest = ContentHash()  # of the chunks as they go by: the table is never whole as text
    spec = FeatureSpec.from_params(raw_schema, features)
    split = split_chunks(digest.passing(as_chunks(customers_raw)), spec, raw_data_path,
                         derived_columns(behaviour_spec))
    return split.valid, split.rejected, {**split.summary, "raw_data_sha256": digest.hexdigest()}


def enforce_rejected_share(
    customers_validated: pd.DataFrame,
    data_quality_summary: dict[str, Any],
    max_rejected_share: float,
) -> pd.DataFrame:
    """Pass valid rows on to the primary layer unless too many rows were rejected.

    Args:
        customers_validated: Valid rows from ``validate_customers``.
        data_quality_summary: Its summary.
        max_rejected_share: Highest acceptable share of rejected rows, 0..1.

    Returns:
        ``customers_validated``, unchanged.

    Raises:
        RejectedShareError: The rejected share is above ``max_rejected_share``.
    """
    share = data_quality_summary["rejected_share"]
    if share > max_rejected_share:
        raise RejectedShareError(
            f"{data_quality_summary['rows_rejected']} of {data_quality_summary['rows_raw']} rows "
            f"({share:.1%}) of {data_quality_summary['raw_data_path']!r} were rejected, above "
            f"data_quality.max_rejected_share = {max_rejected_share:.1%}. Each rejected row and "
            "its reason is in the `customers_rejected` dataset; violations per rule: "
            f"{data_quality_summary['violations']}"
        )
    return customers_validated


def data_quality_metrics(data_quality_summary: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Row counts of the summary as tracking metrics (``{name: {"value", "step"}}``)."""
    keys = ("rows_raw", "rows_primary", "rows_rejected", "rejected_share")
    return {key: {"value": float(data_quality_summary[key]), "step": 0} for key in keys}
