"""Nodes of batch scoring that the training pipelines do not already provide."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from customer_segmentation.kprototypes import KPrototypes
from customer_segmentation.pipelines.clustering.kprototypes_nodes import (
    assign_kprototypes_segments,
)
from customer_segmentation.pipelines.clustering.nodes import assign_segments

logger = logging.getLogger(__name__)


def segment_name(segment: int, segment_names: dict[int | str, str]) -> str:
    """A segment's name in ``segment_names`` (keys may be JSON text), else ``Segment <id>``."""
    return segment_names.get(segment, segment_names.get(str(segment), f"Segment {segment}"))


def assign_served_segments(
    scoring_model_input: pd.DataFrame,
    scoring_mixed_input: pd.DataFrame,
    kmeans_model: KMeans,
    kprototypes_model: KPrototypes,
    serving: dict[str, Any],
    features: dict[str, Any],
    id_column: str,
) -> pd.DataFrame:
    """Segments from the model named in ``serving.model`` (``kmeans`` or ``kprototypes``)."""
    if serving["model"] == "kmeans":
        return assign_segments(scoring_model_input, kmeans_model, id_column)
    if serving["model"] == "kprototypes":
        return assign_kprototypes_segments(
            scoring_mixed_input, kprototypes_model, features, id_column
        )
    raise ValueError(f"serving.model must be kmeans or kprototypes, got {serving['model']!r}")


def combine_scores(
    scoring_segments: pd.DataFrame,
    scoring_rejected: pd.DataFrame,
    scoring_quality_summary: dict[str, Any],
    segment_names: dict[int | str, str],
    id_column: str,
) -> pd.DataFrame:
    """Put scored and rejected customers back together, in the order they came in.

    Args:
        scoring_segments: Identifier and segment of each valid customer, in input order.
        scoring_rejected: Rejected customers as read, with ``raw_row`` and ``reason``.
        scoring_quality_summary: The validation summary (logged).
        segment_names: Segment id to name (the ``segment_names`` dataset).
        id_column: Name of the identifier column.

    Returns:
        One row per input row: ``id_column``, ``segment`` (empty when rejected),
        ``segment_name`` and ``reason`` (empty when scored).
    """
    segments = scoring_segments["segment"]
    names = {segment: segment_name(segment, segment_names) for segment in segments.unique()}
    scored = scoring_segments.assign(segment_name=segments.map(names))
    rows = len(scoring_segments) + len(scoring_rejected)
    scored.index = np.setdiff1d(
        np.arange(rows), scoring_rejected["raw_row"]
    )  # valid rows keep order
    rejected = scoring_rejected[[id_column, "reason"]].set_index(scoring_rejected["raw_row"])
    combined = pd.concat([scored, rejected]).sort_index().reset_index(drop=True)
    combined["segment"] = combined["segment"].astype("Int64")
    ids = combined[id_column].convert_dtypes()  # rejected IDs may be missing or text
    combined[id_column] = ids.astype("str") if ids.dtype == "object" else ids
    logger.info(
        "Scored %d of %d customers; %d rejected (see `reason`)",
        len(scored),
        scoring_quality_summary["rows_raw"],
        len(rejected),
    )
    for text in ("segment_name", "reason"):  # None, not NaN: null in JSON answers
        combined[text] = combined[text].astype("object").where(combined[text].notna(), None)
    return combined[[id_column, "segment", "segment_name", "reason"]]
