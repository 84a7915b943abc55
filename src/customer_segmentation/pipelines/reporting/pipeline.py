"""The ``reporting`` pipeline: the served segments → plots and the HTML report."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from customer_segmentation.segmenter import ALGORITHMS

from .. import ID_COLUMN
from .nodes import cross_segments_with_rfm, served_outputs
from .plots import (
    plot_elbow,
    plot_feature_heatmap,
    plot_k_scores,
    plot_model_agreement,
    plot_pca,
    plot_rfm_crosstab,
    plot_segment_sizes,
    plot_silhouettes,
)
from .report import build_report

SEGMENTED = ["model_input", "served_segments"]
# The tables a Spark run brings to the driver as seeded samples, as `<name>_sample`.
SAMPLED_ON_SPARK = ("model_input", "customer_segments", "kprototypes_segments",
                    "customers_primary")
# Each plot: its function, its inputs, and the models that must have been fitted for it.
PLOTS = {
    "elbow_plot": (plot_elbow, ["k_selection", "kmeans_model"], {"kmeans"}),
    "k_scores_plot": (plot_k_scores, ["k_selection", "kmeans_model"], {"kmeans"}),
    "silhouette_plot": (
        plot_silhouettes, ["model_input", "kmeans_model", ID_COLUMN, "segment_names"], {"kmeans"}
    ),
    "pca_plot": (plot_pca, [*SEGMENTED, "pca", "preprocessor", "served_names"], set()),
    "feature_heatmap": (
        plot_feature_heatmap, [*SEGMENTED, "preprocessor", "served_names"], set()
    ),
    "segment_sizes_plot": (plot_segment_sizes, ["served_profiles", "served_names"], set()),
    "model_agreement_plot": (
        plot_model_agreement, ["customer_segments", "kprototypes_segments", ID_COLUMN],
        {"kmeans", "kprototypes"},
    ),
    "rfm_crosstab_plot": (plot_rfm_crosstab, ["segment_rfm_crosstab"], set()),
}  # fmt: skip
BEHAVIOUR_PLOTS = {"rfm_crosstab_plot"}
# Each model's segments, profiles and k sweep, by the names `served_outputs` takes.
MODEL_OUTPUTS = {
    "kmeans": ("customer_segments", "segment_profiles", "segment_names", "k_selection"),
    "kprototypes": ("kprototypes_segments", "kprototypes_segment_profiles",
                    "kprototypes_segment_names", "kprototypes_k_selection"),
}  # fmt: skip


def create_pipeline(
    models: Sequence[str] = ALGORITHMS, behaviour: bool = False, engine: str = "pandas",
    **kwargs,
) -> Pipeline:
    """Create the reporting pipeline: the plots the fitted models allow, and the report.

    Args:
        models: The models fitted (``segmenter.trained_models`` of ``clustering.models``).
        behaviour: Whether the run segments on behaviour: the segments are then crossed with
            the RFM groups.
        engine: ``pandas``, or ``spark``: the plots draw the seeded samples the Spark
            pipelines bring to the driver (``on_spark.driver_sample_size``).
    """
    by_model = {
        f"{model}_{part}": dataset
        for model in models
        for part, dataset in zip(("segments", "profiles", "names", "k_selection"),
                                 MODEL_OUTPUTS[model], strict=True)
    }  # fmt: skip
    served = Node(
        served_outputs, {"segmenter": "segmenter", **by_model},
        ["served_segments", "served_profiles", "served_names", "served_k_selection",
         "other_models"],
        name="served_outputs",
    )  # fmt: skip
    plots = {name: plot for name, plot in PLOTS.items() if plot[2] <= set(models)
             and (behaviour or name not in BEHAVIOUR_PLOTS)}  # fmt: skip
    plot_nodes = Pipeline([Node(function, inputs, name, name=f"plot_{name}")
                           for name, (function, inputs, _) in plots.items()])  # fmt: skip
    report = Node(
        build_report,
        ["served_profiles", "served_names", "data_quality_summary", "served_k_selection",
         "segmenter", "other_models", "params:clustering", "mlflow_run_id", *plots],
        "segmentation_report", name="build_report",
    )  # fmt: skip
    crossed = [Node(cross_segments_with_rfm,
                    ["served_segments", "rfm_segments", "served_names", ID_COLUMN],
                    "segment_rfm_crosstab", name="cross_segments_with_rfm")] if behaviour else []
    pipeline = Pipeline([served, *crossed]) + plot_nodes + Pipeline([report])
    if engine != "spark":
        return pipeline
    on_spark = {name: f"{name}_sample" for name in SAMPLED_ON_SPARK if name in pipeline.inputs()}
    if behaviour:  # written on Spark, read here in pandas (Kedro's transcoding)
        on_spark["rfm_segments"] = "rfm_segments@pandas"
    return Pipeline(pipeline, inputs=on_spark)
