"""Checking a raw customer table: whole-file problems stop, bad rows are set aside.

One implementation for training (``data_processing``), batch scoring, the MLflow model and
the API's CSV upload, so that each gives the same message for the same problem.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from customer_segmentation.features import FeatureSpec
from customer_segmentation.schema import RawDataError, cast_valid_rows, check_rows

logger = logging.getLogger(__name__)
DOMAIN = "outside_domain"  # rule name of a value its feature transform cannot take


@dataclass(frozen=True)
class Split:
    """Raw rows split by the rules.

    Attributes:
        valid: Rows that passed, with the schema's columns and dtypes, index reset.
        rejected: Rows that failed, as read, with ``raw_row`` (0-based data row) and ``reason``.
        summary: Rows raw / primary / rejected, rejected share and violations per rule.
    """

    valid: pd.DataFrame
    rejected: pd.DataFrame
    summary: dict[str, Any]


def check_table(raw: pd.DataFrame, spec: FeatureSpec, source: str) -> None:
    """Stop on a table that cannot be used at all: a required column missing, or no rows.

    Raises:
        RawDataError: Naming ``source``, the missing columns and the expected ones.
    """
    missing = spec.schema.missing_columns(raw)
    if missing:
        raise RawDataError(
            f"Raw file {source!r} lacks required column(s) {', '.join(map(repr, missing))}: "
            f"raw_schema expects {', '.join(map(repr, spec.schema.columns))}; "
            f"the file has {', '.join(map(repr, raw.columns))}."
        )
    if raw.empty:
        raise RawDataError(f"Raw file {source!r} has a header but no data rows.")


def split_rows(raw: pd.DataFrame, spec: FeatureSpec, source: str) -> Split:
    """Check the table, then every row: the schema's rules and each feature's transform domain.

    Args:
        raw: The raw customer table, as read.
        spec: The feature specification (its raw schema and transforms).
        source: Where the table came from, named in messages.

    Returns:
        Valid rows, rejected rows with their reasons, and the summary.

    Raises:
        RawDataError: A whole-file problem (``check_table``).
    """
    check_table(raw, spec, source)
    extra = [column for column in raw.columns if column not in spec.schema.columns]
    if extra:
        logger.warning("Ignoring columns not in raw_schema: %s", ", ".join(map(str, extra)))
    check = check_rows(raw, spec.schema)
    reasons, counts, valid_mask = check.reasons, check.counts, check.valid
    outside = spec.domain_reasons(check.typed[valid_mask])
    if len(outside):
        reasons = pd.concat([reasons, outside.rename("reason")])
        reasons = reasons.reindex(raw.index[raw.index.isin(reasons.index)])
        counts = {**counts, DOMAIN: {"features": len(outside)}}
        valid_mask = ~raw.index.isin(reasons.index)
    valid = cast_valid_rows(check.typed[valid_mask], spec.schema).reset_index(drop=True)
    rejected = raw[~valid_mask].rename_axis("raw_row").reset_index()
    rejected["reason"] = reasons.to_numpy()
    summary = _summarise(source, len(raw), len(valid), counts)
    _log_summary(summary)
    return Split(valid, rejected, summary)


def _summarise(
    source: str, rows_raw: int, rows_primary: int, counts: dict[str, dict[str, int]]
) -> dict[str, Any]:
    rows_rejected = rows_raw - rows_primary
    return {
        "raw_data_path": str(source),
        "rows_raw": rows_raw,
        "rows_primary": rows_primary,
        "rows_rejected": rows_rejected,
        "rejected_share": rows_rejected / rows_raw,
        "violations": counts,
    }


def _log_summary(summary: dict[str, Any]) -> None:
    logger.info(
        "Data quality of %s: %d raw rows = %d primary + %d rejected (%.2f%%)",
        summary["raw_data_path"], summary["rows_raw"], summary["rows_primary"],
        summary["rows_rejected"], 100 * summary["rejected_share"],
    )  # fmt: skip
    for rule, columns in summary["violations"].items():
        logger.info("  %s: %s", rule, ", ".join(f"{c} {n}" for c, n in columns.items()))
