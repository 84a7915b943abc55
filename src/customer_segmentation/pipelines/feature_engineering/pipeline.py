"""The ``feature_engineering`` pipeline: primary customers → preprocessor + model inputs."""

from kedro.pipeline import Node, Pipeline

from .. import ID_COLUMN
from .nodes import build_kprototypes_input, build_model_input, fit_pca, fit_preprocessor


def create_pipeline(**kwargs) -> Pipeline:
    """Create the feature engineering pipeline."""
    primary = "customers_primary"
    return Pipeline([
        Node(fit_preprocessor, [primary, "params:raw_schema", "params:features"], "preprocessor",
             name="fit_preprocessor"),
        Node(build_model_input, [primary, "preprocessor"], "model_input", name="build_model_input"),
        Node(build_kprototypes_input, [primary, "preprocessor"], "kprototypes_input",
             name="build_kprototypes_input"),
        Node(fit_pca, ["model_input", ID_COLUMN], "pca", name="fit_pca"),
    ])  # fmt: skip
