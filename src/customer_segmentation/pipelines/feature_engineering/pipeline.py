"""The ``feature_engineering`` pipeline: primary customers → preprocessor + model inputs."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from customer_segmentation.segmenter import ALGORITHMS

from .. import ID_COLUMN
from .nodes import build_kprototypes_input, build_model_input, fit_pca, fit_preprocessor


def create_pipeline(models: Sequence[str] = ALGORITHMS, engine: str = "pandas",
                    **kwargs) -> Pipeline:  # fmt: skip
    """Create the feature engineering pipeline; K-Prototypes' input only where it is fitted.

    Args:
        models: The models to fit (``segmenter.trained_models`` of ``clustering.models``).
        engine: ``pandas``, or ``spark``: the features of every row are computed on Spark,
            and the PCA plane is fitted to a seeded sample of them on the driver.
    """
    if engine == "spark":
        return _spark_pipeline(models)
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


def _spark_pipeline(models: Sequence[str]) -> Pipeline:
    from .spark_nodes import (
        build_kprototypes_input_on_spark,
        build_model_input_on_spark,
        fit_preprocessor_on_spark,
        sample_kprototypes_input,
        sample_model_input,
    )

    primary = "customers_primary"
    mixed = Pipeline([
        Node(build_kprototypes_input_on_spark, [primary, "preprocessor"], "kprototypes_input",
             name="build_kprototypes_input"),
        Node(sample_kprototypes_input, ["kprototypes_input", "params:on_spark"],
             "kprototypes_input_sample", name="sample_kprototypes_input"),
    ]) if "kprototypes" in models else Pipeline([])  # fmt: skip
    return mixed + Pipeline([
        Node(fit_preprocessor_on_spark, [primary, "params:raw_schema", "params:features"],
             "preprocessor", name="fit_preprocessor"),
        Node(build_model_input_on_spark, [primary, "preprocessor"], "model_input",
             name="build_model_input"),
        Node(sample_model_input, ["model_input", "params:on_spark"], "model_input_sample",
             name="sample_model_input"),
        Node(fit_pca, ["model_input_sample", ID_COLUMN], "pca", name="fit_pca"),
    ])  # fmt: skip
