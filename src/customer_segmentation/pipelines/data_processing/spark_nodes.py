"""The Spark twin of ``validate_customers``: the same rules and reasons on a Spark table."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from customer_segmentation.behaviour import BehaviourSpec, derived_columns
from customer_segmentation.features import FeatureSpec
from customer_segmentation.spark import split_on_spark


def validate_customers_on_spark(
    customers_raw: DataFrame,
    raw_schema: dict[str, Any],
    features: dict[str, Any],
    raw_data_path: str,
    behaviour_spec: BehaviourSpec | None = None,
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """Split raw customers into valid rows and rejected rows with a reason each, on Spark.

    Args:
        customers_raw: The raw customer table, every column read as text.
        raw_schema: The ``raw_schema`` parameter.
        features: The ``features`` parameter (a transform's domain is a row rule too).
        raw_data_path: Path of the raw file, named in messages.
        behaviour_spec: As in ``validate_customers``.

    Returns:
        As ``validate_customers``: the valid rows, typed; the rejected rows as read, with
        ``raw_row`` and ``reason``; the data-quality summary, with ``raw_data_sha256``.

    Raises:
        RawDataError: The table has no rows or lacks a required column.
    """
    split = split_on_spark(customers_raw, FeatureSpec.from_params(raw_schema, features),
                           raw_data_path, derived=derived_columns(behaviour_spec))  # fmt: skip
    return split.valid, split.rejected, split.summary
