"""The ``feature_engineering`` pipeline: primary customers → preprocessor + model inputs."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from customer_segmentation.segmenter import ALGORITHMS

from .. import ID_COLUMN
from .nodes import build_kprototypes_input, build_model_input, fit_pca, fit_preprocessor


def create_pipeline(models: Sequence[str] = ALGORITHMS, **kwargs) -> Pipeline:
    """Create the feature engineering pipeline; K-Prototypes' input only where it is fitted.

    Args:
        models: The models to fit (``segmenter.trained_models`` of ``clustering.models``).
    """
    primary = "customers_primary"
    pipeline = Pipeline([
        Node(fit_preprocessor, [primary, "params:raw_schema", "params:features"], "preprocessor",
             name="fit_preprocessor"),
        Node(build_model_input, [primary, "preprocessor"], "model_input", name="build_model_input"),
        Node(fit_pca, ["model_input", ID_COLUMN], "pca", name="fit_pca"),
    ])  # fmt: skip
    if "kprototypes" in models:
        mixed = Node(build_kprototypes_input, [primary, "preprocessor"], "kprototypes_input",
                     name="build_kprototypes_input")  # fmt: skip
        pipeline += Pipeline([mixed])
    return pipeline
