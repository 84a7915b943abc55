"""The ``clustering`` pipeline: model input → k sweep, K-Means model and segments."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    assign_segments,
    choose_k,
    evaluate_kmeans,
    k_sweep_metrics,
    sweep_k,
    train_kmeans,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Create the clustering pipeline."""
    return Pipeline(
        [
            Node(
                sweep_k,
                inputs=["model_input", "params:kmeans", "params:raw_schema.id_column"],
                outputs="k_selection",
                name="sweep_k",
            ),
            Node(k_sweep_metrics, "k_selection", "k_sweep_metrics", name="k_sweep_metrics"),
            Node(
                choose_k,
                inputs=["k_selection", "params:kmeans"],
                outputs="chosen_k",
                name="choose_k",
            ),
            Node(
                train_kmeans,
                inputs=["model_input", "chosen_k", "params:kmeans", "params:raw_schema.id_column"],
                outputs="kmeans_model",
                name="train_kmeans",
            ),
            Node(
                assign_segments,
                inputs=["model_input", "kmeans_model", "params:raw_schema.id_column"],
                outputs="customer_segments",
                name="assign_segments",
            ),
            Node(
                evaluate_kmeans,
                inputs=[
                    "model_input",
                    "kmeans_model",
                    "params:kmeans",
                    "params:raw_schema.id_column",
                ],
                outputs="kmeans_metrics",
                name="evaluate_kmeans",
            ),
        ]
    )
