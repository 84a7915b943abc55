"""The ``feature_engineering`` pipeline: primary customers → preprocessor + model input."""

from kedro.pipeline import Node, Pipeline

from .. import ID_COLUMN
from .nodes import build_mixed_input, build_model_input, fit_pca, fit_preprocessor


def create_pipeline(**kwargs) -> Pipeline:
    """Create the feature engineering pipeline."""
    return Pipeline(
        [
            Node(
                fit_preprocessor,
                inputs=["customers_primary", "params:features", "params:raw_schema"],
                outputs="preprocessor",
                name="fit_preprocessor",
            ),
            Node(
                build_model_input,
                inputs=["customers_primary", "preprocessor", ID_COLUMN],
                outputs="model_input",
                name="build_model_input",
            ),
            Node(
                build_mixed_input,
                inputs=[
                    "customers_primary",
                    "preprocessor",
                    "params:features",
                    "params:raw_schema",
                    ID_COLUMN,
                ],
                outputs="kprototypes_input",
                name="build_kprototypes_input",
            ),
            Node(fit_pca, ["model_input", ID_COLUMN], "pca", name="fit_pca"),
        ]
    )
