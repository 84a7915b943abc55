"""The ``reporting`` pipeline: the served segments → plots and the HTML report."""

from kedro.pipeline import Node, Pipeline

from .. import ID_COLUMN
from .nodes import served_outputs
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
    "pca_plot": (plot_pca, [*SEGMENTED, "pca", ID_COLUMN, "served_names"]),
    "feature_heatmap": (plot_feature_heatmap, [*SEGMENTED, ID_COLUMN, "served_names"]),
    "segment_sizes_plot": (plot_segment_sizes, ["served_profiles", "served_names"]),
    "model_agreement_plot": (
        plot_model_agreement, ["customer_segments", "kprototypes_segments", ID_COLUMN]
    ),
}  # fmt: skip


def create_pipeline(**kwargs) -> Pipeline:
    """Create the reporting pipeline."""
    served = Node(
        served_outputs,
        ["segmenter", "customer_segments", "kprototypes_segments", "segment_profiles",
         "kprototypes_segment_profiles"],
        ["served_segments", "served_profiles", "served_names"], name="served_outputs",
    )  # fmt: skip
    plots = Pipeline([Node(function, inputs, name, name=f"plot_{name}")
                      for name, (function, inputs) in PLOTS.items()])  # fmt: skip
    report = Node(
        build_report,
        ["served_profiles", "served_names", "data_quality_summary", "k_selection",
         "kmeans_model", "segmenter", "mlflow_run_id", *PLOTS],
        "segmentation_report", name="build_report",
    )  # fmt: skip
    return Pipeline([served]) + plots + Pipeline([report])
