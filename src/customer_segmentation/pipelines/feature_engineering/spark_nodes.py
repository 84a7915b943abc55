"""The Spark twins of the feature nodes: the same fitted transformation and model input."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame

from customer_segmentation.features import FeatureSpec, FittedFeatures
from customer_segmentation.spark import (
    fit_features_on_spark,
    kprototypes_input_on_spark,
    model_input_on_spark,
    seeded_sample,
)

logger = logging.getLogger(__name__)


def fit_preprocessor_on_spark(
    customers_primary: DataFrame, raw_schema: dict[str, Any], features: dict[str, Any]
) -> FittedFeatures:
    """``fit_preprocessor`` on Spark: its statistics are Spark aggregates of every row.

    Args:
        customers_primary: Valid customers.
        raw_schema: The ``raw_schema`` parameter.
        features: The ``features`` parameter.

    Returns:
        The fitted transformation, as the pandas path fits it.
    """
    spec = FeatureSpec.from_params(raw_schema, features)
    preprocessor = fit_features_on_spark(customers_primary, spec)
    logger.info("Fitted the feature transformation on Spark: %d features (%s)",
                len(spec.output_columns), ", ".join(spec.output_columns))  # fmt: skip
    return preprocessor


def build_model_input_on_spark(
    customers_primary: DataFrame, preprocessor: FittedFeatures
) -> DataFrame:
    """K-Means' input on Spark: the identifier, then the float model features."""
    return model_input_on_spark(customers_primary, preprocessor)


def sample_model_input(model_input: DataFrame, on_spark: dict[str, Any]) -> pd.DataFrame:
    """A seeded sample of ``on_spark.driver_sample_size`` model-input rows on the driver
    (every row of a smaller table): what the PCA plane and the report's plots draw."""
    return seeded_sample(model_input, on_spark["driver_sample_size"], on_spark["random_state"])


def build_kprototypes_input_on_spark(
    customers_primary: DataFrame, preprocessor: FittedFeatures
) -> DataFrame:
    """K-Prototypes' input on Spark: the identifier, scaled numeric features, then each
    categorical feature's legend position."""
    return kprototypes_input_on_spark(customers_primary, preprocessor)


def sample_kprototypes_input(kprototypes_input: DataFrame, on_spark: dict[str, Any]
                             ) -> pd.DataFrame:  # fmt: skip
    """The rows K-Prototypes is fitted to on the driver: a seeded sample of
    ``on_spark.kprototypes_sample_size`` (every row of a smaller table)."""
    return seeded_sample(kprototypes_input, on_spark["kprototypes_sample_size"],
                         on_spark["random_state"])  # fmt: skip
