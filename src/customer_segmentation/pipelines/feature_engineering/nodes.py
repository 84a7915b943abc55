"""Nodes that fit the feature preprocessor and build the model input."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from customer_segmentation.schema import CATEGORICAL_KINDS, RawSchema

logger = logging.getLogger(__name__)

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def fit_preprocessor(
    customers_primary: pd.DataFrame, features: dict[str, Any], raw_schema: dict[str, Any]
) -> ColumnTransformer:
    """Fit the transformer that turns raw feature columns into model features.

    Numeric columns are scaled; ordinal columns are encoded in legend order, then scaled;
    nominal columns are one-hot encoded with one column per legend code. The identifier
    and any column not listed in ``features`` are left out.

    Args:
        customers_primary: Valid customers.
        features: The ``features`` parameter: ``numeric``, ``ordinal``, ``nominal`` column
            lists and ``scaler``.
        raw_schema: The ``raw_schema`` parameter, source of every category and its order.

    Returns:
        The fitted ``ColumnTransformer``; it outputs a DataFrame with readable column names.
    """
    schema = RawSchema.from_params(raw_schema)
    _check_feature_lists(features, schema)
    scaler = SCALERS[features.get("scaler", "standard")]
    ordinal = features.get("ordinal") or []
    nominal = features.get("nominal") or []
    steps = [("numeric", scaler(), features.get("numeric") or [])]
    if ordinal:
        categories = [list(schema.columns[name].codes) for name in ordinal]
        steps.append(
            ("ordinal", make_pipeline(OrdinalEncoder(categories=categories), scaler()), ordinal)
        )
    if nominal:
        categories = [list(schema.columns[name].codes) for name in nominal]
        encoder = OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False)
        steps.append(("nominal", encoder, nominal))
    preprocessor = ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)
    preprocessor.set_output(transform="pandas")
    preprocessor.fit(customers_primary)
    logger.info(
        "Fitted the preprocessor on %d customers: %d features (%s)",
        len(customers_primary),
        len(preprocessor.get_feature_names_out()),
        ", ".join(preprocessor.get_feature_names_out()),
    )
    return preprocessor


def build_model_input(
    customers_primary: pd.DataFrame, preprocessor: ColumnTransformer, id_column: str
) -> pd.DataFrame:
    """Transform customers into model features, the identifier first and kept aside.

    Args:
        customers_primary: Valid customers.
        preprocessor: The fitted preprocessor.
        id_column: Name of the identifier column.

    Returns:
        One row per customer: ``id_column`` then the float feature columns.
    """
    features = preprocessor.transform(customers_primary).astype("float64")
    features.insert(0, id_column, customers_primary[id_column].to_numpy())
    return features.reset_index(drop=True)


def build_mixed_input(
    customers_primary: pd.DataFrame,
    preprocessor: ColumnTransformer,
    features: dict[str, Any],
    raw_schema: dict[str, Any],
    id_column: str,
) -> pd.DataFrame:
    """Build K-Prototypes' input: scaled numeric features and categorical codes.

    Numeric features are scaled by the fitted preprocessor's own scaler; each ordinal and
    nominal feature becomes its position in the legend (0, 1, ...), a category.

    Args:
        customers_primary: Valid customers.
        preprocessor: The fitted preprocessor.
        features: The ``features`` parameter.
        raw_schema: The ``raw_schema`` parameter, source of each legend.
        id_column: Name of the identifier column.

    Returns:
        ``id_column``, the numeric features (float), then the categorical ones (int).
    """
    schema = RawSchema.from_params(raw_schema)
    numeric = features.get("numeric") or []
    scaler = preprocessor.named_transformers_["numeric"]
    mixed = pd.DataFrame(scaler.transform(customers_primary[numeric]), columns=numeric)
    for name in categorical_features(features):
        positions = {code: position for position, code in enumerate(schema.columns[name].codes)}
        mixed[name] = customers_primary[name].map(positions).astype("int64").to_numpy()
    mixed.insert(0, id_column, customers_primary[id_column].to_numpy())
    return mixed


def fit_pca(model_input: pd.DataFrame, id_column: str) -> PCA:
    """Fit a 2-component PCA of the model features, to draw customers on a plane.

    Args:
        model_input: Model features with the identifier column.
        id_column: Name of the identifier column, left out.

    Returns:
        The fitted PCA; ``explained_variance_ratio_`` says how much of the spread it shows.
    """
    pca = PCA(n_components=2, random_state=0).fit(model_input.drop(columns=id_column).to_numpy())
    logger.info(
        "PCA: the plane shows %.0f%% of the variance", 100 * pca.explained_variance_ratio_.sum()
    )
    return pca


def categorical_features(features: dict[str, Any]) -> list[str]:
    """The features K-Prototypes treats as categories: the ordinal then the nominal ones."""
    return [*(features.get("ordinal") or []), *(features.get("nominal") or [])]


def _check_feature_lists(features: dict[str, Any], schema: RawSchema) -> None:
    expected_kinds = {
        "numeric": ("numeric",),
        "ordinal": CATEGORICAL_KINDS,
        "nominal": CATEGORICAL_KINDS,
    }
    for group, kinds in expected_kinds.items():
        for name in features.get(group) or []:
            spec = schema.columns.get(name)
            if spec is None:
                raise ValueError(f"features.{group} lists {name!r}, which raw_schema lacks")
            if spec.kind not in kinds:
                raise ValueError(
                    f"features.{group} lists {name!r}, a {spec.kind} column; "
                    f"{group} features must be {' or '.join(kinds)}"
                )
    if features.get("scaler", "standard") not in SCALERS:
        raise ValueError(f"features.scaler must be one of {', '.join(SCALERS)}")
