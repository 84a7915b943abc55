"""The ``reporting`` pipeline: segments → profiles, names, plots and the HTML report."""

from kedro.pipeline import Node, Pipeline

from .. import ID_COLUMN
from .nodes import name_segments, profile_segments, served_segments
from .plots import (
    plot_elbow,
    plot_feature_heatmap,
    plot_k_scores,
    plot_model_agreement,
    plot_pca,
    plot_segment_sizes,
    plot_silhouettes,
)
from .report import build_report

SEGMENTED = ["model_input", "served_segments"]
PLOTS = {
    "elbow_plot": (plot_elbow, ["k_selection", "kmeans_model"]),
    "k_scores_plot": (plot_k_scores, ["k_selection", "kmeans_model"]),
    "silhouette_plot": (
        plot_silhouettes, ["model_input", "kmeans_model", ID_COLUMN, "segment_names"]
    ),
    "pca_plot": (plot_pca, [*SEGMENTED, "pca", ID_COLUMN, "segment_names"]),
    "feature_heatmap": (plot_feature_heatmap, [*SEGMENTED, ID_COLUMN, "segment_names"]),
    "segment_sizes_plot": (plot_segment_sizes, ["segment_profiles", "segment_names"]),
    "model_agreement_plot": (
        plot_model_agreement, ["customer_segments", "kprototypes_segments", ID_COLUMN]
    ),
}  # fmt: skip


def create_pipeline(**kwargs) -> Pipeline:
    """Create the reporting pipeline."""
    profiles = Pipeline([
        Node(
            served_segments,
            ["customer_segments", "kprototypes_segments", "params:serving"],
            "served_segments", name="served_segments",
        ),
        Node(
            profile_segments,
            ["customers_primary", "served_segments", "params:features", "params:raw_schema"],
            "segment_profiles", name="profile_segments",
        ),
        Node(
            name_segments,
            ["segment_profiles", "params:features", "params:raw_schema", "params:reporting"],
            "segment_names", name="name_segments",
        ),
    ])  # fmt: skip
    plots = Pipeline([Node(function, inputs, name, name=f"plot_{name}")
                      for name, (function, inputs) in PLOTS.items()])  # fmt: skip
    report = Node(
        build_report,
        ["segment_profiles", "segment_names", "data_quality_summary", "k_selection",
         "kmeans_model", "params:serving", "mlflow_run_id", *PLOTS],
        "segmentation_report", name="build_report",
    )  # fmt: skip
    return profiles + plots + Pipeline([report])
