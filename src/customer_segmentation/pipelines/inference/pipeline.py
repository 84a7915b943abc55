"""The ``inference`` pipeline: a raw customer file → scored customers.

Validate → ``segmenter`` → combine: the same path as ``Segmenter.predict`` and the API, with
the one artifact training wrote. Bound to training by ``pipeline_ml_factory``
(``pipeline_registry.py``), it is also the MLflow model logged with every training run.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    assign_scoring_segments,
    combine_scored_and_rejected,
    validate_customers_to_score,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Create the inference (batch scoring) pipeline."""
    return Pipeline(
        [
            Node(
                validate_customers_to_score,
                inputs=["customers_raw", "segmenter", "params:raw_data_path"],
                outputs=["scoring_valid", "scoring_rejected", "scoring_quality_summary"],
                name="validate_customers_to_score",
            ),
            Node(
                assign_scoring_segments,
                inputs=["scoring_valid", "segmenter"],
                outputs="scoring_segments",
                name="assign_scoring_segments",
            ),
            Node(
                combine_scored_and_rejected,
                inputs=[
                    "scoring_segments",
                    "scoring_rejected",
                    "scoring_quality_summary",
                    "segmenter",
                ],
                outputs="scored_customers",
                name="combine_scores",
            ),
        ]
    )
