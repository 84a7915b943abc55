"""The Spark twins of batch scoring: the same segmenter, on the executors."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame

from customer_segmentation.behaviour import as_of_date, derived_columns
from customer_segmentation.segmenter import Segmenter
from customer_segmentation.spark import SparkSplit, scores_on_spark, split_on_spark
from customer_segmentation.spark_behaviour import add_behaviour_on_spark, log_customers_as_read
from customer_segmentation.validation import check_columns

from .nodes import behaviour_of

logger = logging.getLogger(__name__)


def add_behaviour_to_score_on_spark(
    customers_raw: DataFrame, transactions_raw: DataFrame, segmenter: Segmenter, as_of: Any,
    raw_data_path: str, on_spark: dict[str, Any],
) -> tuple[DataFrame, DataFrame]:  # fmt: skip
    """``add_behaviour_to_score`` on Spark: the customers to score with the behaviour their
    transactions show, derived as the segmenter's training derived it.

    Raises:
        RawDataError: The customer table lacks a column (before the log is read).
    """
    spec = behaviour_of(segmenter)
    check_columns(pd.DataFrame(columns=customers_raw.columns), segmenter.spec, raw_data_path,
                  joined=spec.schema.feature_columns)  # fmt: skip
    return _with_behaviour(customers_raw, transactions_raw, segmenter, as_of, on_spark)


def log_customers_to_score_on_spark(
    transactions_raw: DataFrame, segmenter: Segmenter, as_of: Any, on_spark: dict[str, Any]
) -> tuple[DataFrame, DataFrame]:
    """``log_customers_to_score`` on Spark: every customer of the log, in the order of their
    first line, with their behaviour."""
    column = behaviour_of(segmenter).schema.columns["customer"]
    customers = log_customers_as_read(transactions_raw, column, segmenter.spec.id_column)
    return _with_behaviour(customers, transactions_raw, segmenter, as_of, on_spark)


def _with_behaviour(customers: DataFrame, lines: DataFrame, segmenter: Segmenter, as_of: Any,
                    on_spark: dict[str, Any]) -> tuple[DataFrame, DataFrame]:  # fmt: skip
    joined, rejected, date = add_behaviour_on_spark(
        customers, lines, behaviour_of(segmenter), segmenter.spec.id_column, as_of_date(as_of),
        on_spark["lines_per_group"])
    logger.info("Behaviour of the customers to score as of %s, on Spark", date.date())
    return joined, rejected


def validate_customers_to_score_on_spark(
    customers_raw: DataFrame, segmenter: Segmenter, raw_data_path: str
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """``validate_customers_to_score`` on Spark: the rules of the schema the segmenter was
    trained on; the rows keep their place (``raw_row``) to be put back in order.

    Raises:
        RawDataError: The table lacks a required column or has no rows.
    """
    split = split_on_spark(customers_raw, segmenter.spec, raw_data_path, scoring=True,
                           derived=derived_columns(segmenter.behaviour))
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
