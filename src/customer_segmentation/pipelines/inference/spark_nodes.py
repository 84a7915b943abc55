"""The Spark twins of batch scoring: the same segmenter, on the executors."""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import DataFrame

from customer_segmentation.segmenter import Segmenter
from customer_segmentation.spark import SparkSplit, scores_on_spark, split_on_spark

logger = logging.getLogger(__name__)


def validate_customers_to_score_on_spark(
    customers_raw: DataFrame, segmenter: Segmenter, raw_data_path: str
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """``validate_customers_to_score`` on Spark: the rules of the schema the segmenter was
    trained on; the rows keep their place (``raw_row``) to be put back in order.

    Raises:
        RawDataError: The table lacks a required column or has no rows.
    """
    split = split_on_spark(customers_raw, segmenter.spec, raw_data_path, scoring=True)
    return split.valid, split.rejected, split.summary


def score_customers_on_spark(
    scoring_valid: DataFrame, scoring_rejected: DataFrame,
    scoring_quality_summary: dict[str, Any], segmenter: Segmenter,
) -> DataFrame:  # fmt: skip
    """Every input row in input order: its segment and name (``Segmenter.assign`` on the
    executors), or why it was rejected.

    Returns:
        The identifier, ``segment`` (empty when rejected), ``segment_name`` and ``reason``.
    """
    logger.info("Scoring %d of %d customers on Spark with %s (k=%d); %d rejected",
                scoring_quality_summary["rows_primary"], scoring_quality_summary["rows_raw"],
                segmenter.algorithm, segmenter.k,
                scoring_quality_summary["rows_rejected"])  # fmt: skip
    return scores_on_spark(SparkSplit(scoring_valid, scoring_rejected), segmenter)
