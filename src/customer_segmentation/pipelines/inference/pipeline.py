"""The ``inference`` pipeline: a raw customer file → scored customers.

It reuses the training pipelines' node functions, so scoring validates, transforms and
predicts exactly as training did, with the ``preprocessor`` and ``kmeans_model`` that
training saved. Bound to training by ``pipeline_ml_factory`` (``pipeline_registry.py``), it
is also the MLflow model logged with every training run.
"""

from kedro.pipeline import Node, Pipeline

from .. import ID_COLUMN
from ..data_processing.nodes import validate_customers
from ..feature_engineering.nodes import build_mixed_input, build_model_input
from .nodes import assign_served_segments, combine_scores


def create_pipeline(**kwargs) -> Pipeline:
    """Create the inference (batch scoring) pipeline."""
    return Pipeline(
        [
            Node(
                validate_customers,
                inputs=["customers_raw", "params:raw_schema", "params:raw_data_path"],
                outputs=["scoring_valid", "scoring_rejected", "scoring_quality_summary"],
                name="validate_customers_to_score",
            ),
            Node(
                build_model_input,
                inputs=["scoring_valid", "preprocessor", ID_COLUMN],
                outputs="scoring_model_input",
                name="build_scoring_model_input",
            ),
            Node(
                build_mixed_input,
                inputs=[
                    "scoring_valid",
                    "preprocessor",
                    "params:features",
                    "params:raw_schema",
                    ID_COLUMN,
                ],
                outputs="scoring_mixed_input",
                name="build_scoring_mixed_input",
            ),
            Node(
                assign_served_segments,
                inputs=[
                    "scoring_model_input",
                    "scoring_mixed_input",
                    "kmeans_model",
                    "kprototypes_model",
                    "params:serving",
                    "params:features",
                    ID_COLUMN,
                ],
                outputs="scoring_segments",
                name="assign_scoring_segments",
            ),
            Node(
                combine_scores,
                inputs=[
                    "scoring_segments",
                    "scoring_rejected",
                    "scoring_quality_summary",
                    "segment_names",
                    ID_COLUMN,
                ],
                outputs="scored_customers",
                name="combine_scores",
            ),
        ]
    )
