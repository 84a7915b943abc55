"""Nodes that check raw customers against ``raw_schema`` and quarantine bad rows."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from customer_segmentation.schema import RawDataError, RawSchema, cast_valid_rows, check_rows

logger = logging.getLogger(__name__)


class RejectedShareError(RuntimeError):
    """Too many raw rows were rejected for the run to go on."""


def validate_customers(
    customers_raw: pd.DataFrame, raw_schema: dict[str, Any], raw_data_path: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split raw customers into valid rows and rejected rows with a reason each.

    Args:
        customers_raw: The raw customer table, as read.
        raw_schema: The ``raw_schema`` parameter.
        raw_data_path: Path of the raw file, named in error messages.

    Returns:
        The valid rows with the schema's columns and dtypes; the rejected rows as read, with
        ``raw_row`` (0-based data row in the file) and ``reason``; the data-quality summary.

    Raises:
        RawDataError: The file has no rows or lacks a required column.
    """
    schema = RawSchema.from_params(raw_schema)
    _check_whole_file(customers_raw, schema, raw_data_path)
    extra = [column for column in customers_raw.columns if column not in schema.columns]
    if extra:
        logger.warning("Ignoring columns not in raw_schema: %s", ", ".join(map(str, extra)))

    check = check_rows(customers_raw, schema)
    valid = cast_valid_rows(check.typed[check.valid], schema).reset_index(drop=True)
    rejected = customers_raw[~check.valid].rename_axis("raw_row").reset_index()
    rejected["reason"] = check.reasons.to_numpy()
    summary = _summarise(raw_data_path, len(customers_raw), len(valid), check.counts)
    _log_summary(summary)
    return valid, rejected, summary


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


def _check_whole_file(raw: pd.DataFrame, schema: RawSchema, path: str) -> None:
    missing = schema.missing_columns(raw)
    if missing:
        raise RawDataError(
            f"Raw file {path!r} lacks required column(s) {', '.join(map(repr, missing))}: "
            f"raw_schema expects {', '.join(map(repr, schema.columns))}; "
            f"the file has {', '.join(map(repr, raw.columns))}."
        )
    if raw.empty:
        raise RawDataError(f"Raw file {path!r} has a header but no data rows.")


def _summarise(
    path: str, rows_raw: int, rows_primary: int, counts: dict[str, dict[str, int]]
) -> dict[str, Any]:
    rows_rejected = rows_raw - rows_primary
    return {
        "raw_data_path": str(path),
        "rows_raw": rows_raw,
        "rows_primary": rows_primary,
        "rows_rejected": rows_rejected,
        "rejected_share": rows_rejected / rows_raw,
        "violations": counts,
    }


def _log_summary(summary: dict[str, Any]) -> None:
    logger.info(
        "Data quality of %s: %d raw rows = %d primary + %d rejected (%.2f%%)",
        summary["raw_data_path"],
        summary["rows_raw"],
        summary["rows_primary"],
        summary["rows_rejected"],
        100 * summary["rejected_share"],
    )
    for rule, columns in summary["violations"].items():
        logger.info("  %s: %s", rule, ", ".join(f"{c} {n}" for c, n in columns.items()))
