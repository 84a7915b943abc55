"""Nodes of batch scoring: every one a thin call into the fitted ``segmenter``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd

from customer_segmentation.segmenter import Segmenter, combine_scores
from customer_segmentation.validation import split_chunks

logger = logging.getLogger(__name__)


def validate_customers_to_score(
    customers_raw: pd.DataFrame | Iterable[pd.DataFrame], segmenter: Segmenter, raw_data_path: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split the customers to score by the rules of the schema the segmenter was trained on.

    ``customers_raw`` is one DataFrame (the MLflow model's input) or the row chunks of the
    raw dataset, checked one at a time.

    Returns:
        Valid rows, rejected rows (``raw_row``, ``reason``) and the data-quality summary.

    Raises:
        RawDataError: The file lacks a required column or has no rows.
    """
    split = split_chunks(customers_raw, segmenter.spec, raw_data_path)
    return split.valid, split.rejected, split.summary


def assign_scoring_segments(scoring_valid: pd.DataFrame, segmenter: Segmenter) -> pd.DataFrame:
    """Identifier, segment and segment name of each valid customer, in input order."""
    return segmenter.assign(scoring_valid)


def combine_scored_and_rejected(
    scoring_segments: pd.DataFrame,
    scoring_rejected: pd.DataFrame,
    scoring_quality_summary: dict[str, Any],
    segmenter: Segmenter,
) -> pd.DataFrame:
    """Every input row in input order: its segment and name, or why it was rejected.

    Returns:
        The identifier, ``segment`` (empty when rejected), ``segment_name`` and ``reason``.
    """
    scored = combine_scores(scoring_segments, scoring_rejected, segmenter.spec.id_column)
    logger.info(
        "Scored %d of %d customers with %s (k=%d); %d rejected (see `reason`)",
        len(scoring_segments), scoring_quality_summary["rows_raw"], segmenter.algorithm,
        segmenter.k, len(scoring_rejected),
    )  # fmt: skip
    return scored
