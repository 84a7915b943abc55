"""The ``inference`` pipeline: a raw customer file → scored customers.

Validate → ``segmenter`` → combine: the same path as ``Segmenter.predict`` and the API, with
the one artifact training wrote. Bound to training by ``pipeline_ml_factory``
(``pipeline_registry.py``), it is also the MLflow model logged with every training run.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    add_behaviour_to_score,
    assign_scoring_segments,
    combine_scored_and_rejected,
    derive_posted_behaviour,
    log_customers_to_score,
    validate_customers_to_score,
)


def create_pipeline(segment_on: str = "customers", engine: str = "pandas",
                    **kwargs) -> Pipeline:  # fmt: skip
    """Create the inference (batch scoring) pipeline.

    Args:
        segment_on: What the segmenter was trained on. With behaviour, the customers' (or
            the log's) behaviour is first derived from ``transactions_raw``; the rest scores
            the joined table, which is what the MLflow model takes.
        engine: ``pandas``, or ``spark``: the customers are scored on the executors.
    """
    scoring = _score_on_spark() if engine == "spark" else create_model_pipeline(segment_on)
    if segment_on == "customers":
        return scoring
    if engine == "spark":
        from .spark_nodes import add_behaviour_to_score_on_spark as add_behaviour
        from .spark_nodes import log_customers_to_score_on_spark as log_customers
    else:
        add_behaviour, log_customers = add_behaviour_to_score, log_customers_to_score
    on_spark = ["params:on_spark"] if engine == "spark" else []
    derive = (
        Node(add_behaviour,
             ["customers_raw", "transactions_raw", "segmenter", "params:behaviour.as_of",
              "params:raw_data_path", *on_spark],
             ["customers_to_score", "scoring_transactions_rejected"],
             name="add_behaviour_to_score")
        if segment_on == "both" else
        Node(log_customers,
             ["transactions_raw", "segmenter", "params:behaviour.as_of", *on_spark],
             ["customers_to_score", "scoring_transactions_rejected"],
             name="log_customers_to_score")
    )  # fmt: skip
    return Pipeline([derive]) + Pipeline(scoring, inputs={"customers_raw": "customers_to_score"})


def create_model_pipeline(segment_on: str = "customers") -> Pipeline:
    """Raw customers → scored customers: the MLflow model (one input, ``customers_raw``).

    Trained on behaviour, a customer carries its values, or its own transaction lines
    (``derive_posted_behaviour``), as in the API's requests.
    """
    scoring = _score_raw_customers()
    if segment_on == "customers":
        return scoring
    derive = Node(derive_posted_behaviour, ["customers_raw", "segmenter"], "customers_posted",
                  name="derive_posted_behaviour")  # fmt: skip
    return Pipeline([derive]) + Pipeline(scoring, inputs={"customers_raw": "customers_posted"})


def _score_raw_customers() -> Pipeline:
    """Raw customers (with behaviour values when trained on them) → scored customers."""
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


def _score_on_spark() -> Pipeline:
    """Raw customers (a Spark table) → scored customers, on the executors."""
    from .spark_nodes import score_customers_on_spark, validate_customers_to_score_on_spark

    split = ["scoring_valid", "scoring_rejected", "scoring_quality_summary"]
    return Pipeline([
        Node(validate_customers_to_score_on_spark,
             ["customers_raw", "segmenter", "params:raw_data_path"], split,
             name="validate_customers_to_score"),
        Node(score_customers_on_spark, [*split, "segmenter"], "scored_customers",
             name="combine_scores"),
    ])  # fmt: skip
