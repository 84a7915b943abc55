"""Nodes that fit the feature transformation and build the model inputs."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from customer_segmentation.features import FeatureSpec, FittedFeatures, fit_features

logger = logging.getLogger(__name__)


def fit_preprocessor(
    customers_primary: pd.DataFrame, raw_schema: dict[str, Any], features: dict[str, Any]
) -> FittedFeatures:
    """Fit the transformation that turns raw feature columns into model features.

    Numeric columns take their transform (``log1p``, ...) and are scaled; ordinal columns are
    encoded in legend order, then scaled; nominal columns are one-hot encoded with one
    column per legend code. The identifier and columns not in ``features`` are left out.

    Args:
        customers_primary: Valid customers.
        raw_schema: The ``raw_schema`` parameter, source of every category and its order.
        features: The ``features`` parameter.

    Returns:
        The fitted transformation (``customer_segmentation.features.FittedFeatures``).
    """
    spec = FeatureSpec.from_params(raw_schema, features)
    preprocessor = fit_features(customers_primary, spec)
    logger.info(
        "Fitted the feature transformation on %d customers: %d features (%s)",
        len(customers_primary), len(spec.output_columns), ", ".join(spec.output_columns),
    )  # fmt: skip
    return preprocessor


def build_model_input(
    customers_primary: pd.DataFrame, preprocessor: FittedFeatures
) -> pd.DataFrame:
    """K-Means' input: the identifier, then the float model features, a row per customer."""
    return preprocessor.frame(customers_primary)


def build_kprototypes_input(
    customers_primary: pd.DataFrame, preprocessor: FittedFeatures
) -> pd.DataFrame:
    """K-Prototypes' input: the identifier, scaled numeric features (float), then each
    categorical feature as its legend position (int), a category."""
    return preprocessor.mixed_frame(customers_primary)


def fit_pca(model_input: pd.DataFrame, id_column: str) -> Any:
    """Fit a 2-component PCA of the model features, to draw customers on a plane.

    Args:
        model_input: Model features with the identifier column.
        id_column: Name of the identifier column, left out.

    Returns:
        The fitted scikit-learn PCA; ``explained_variance_ratio_`` says how much it shows.
    """
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0).fit(model_input.drop(columns=id_column).to_numpy())
    logger.info(
        "PCA: the plane shows %.0f%% of the variance", 100 * pca.explained_variance_ratio_.sum()
    )
    return pca
