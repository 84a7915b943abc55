"""The ``clustering`` pipeline: K-Means and K-Prototypes, their segments and names, and the
``segmenter`` that serves one of them."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from customer_segmentation.segmenter import ALGORITHMS

from .. import ID_COLUMN
from .kprototypes_nodes import (
    assign_kprototypes_segments,
    choose_kprototypes_k,
    evaluate_kprototypes,
    sweep_kprototypes,
    train_kprototypes,
)
from .nodes import (
    assign_segments,
    build_kmeans_segmenter,
    build_kprototypes_segmenter,
    build_served_segmenter,
    choose_k,
    evaluate_kmeans,
    k_sweep_metrics,
    profile_and_name_segments,
    sweep_k,
    train_kmeans,
)

NAMING = ["preprocessor", "params:reporting"]


def create_pipeline(
    models: Sequence[str] = ALGORITHMS, behaviour: bool = False, engine: str = "pandas",
    **kwargs,
) -> Pipeline:
    """Create the clustering pipeline: each of ``models`` fitted and named, then the
    ``segmenter`` of the one served.

    Args:
        models: The models to fit (``segmenter.trained_models`` of ``clustering.models``).
        behaviour: Whether the run segments on behaviour: the segmenter then keeps how it
            was derived (``behaviour.BehaviourSpec``), to derive it again when scoring.
        engine: ``pandas``, or ``spark``: K-Means on Spark (K-Prototypes is not built on
            Spark yet); its segments are profiled and named on a seeded sample.
    """
    fitted = ["preprocessor", "pca"]
    if engine == "spark":
        if "kprototypes" in models:
            raise ValueError("K-Prototypes does not run on Spark yet: set clustering.models: "
                             "[kmeans] in conf/spark (docs/spark.md)")  # fmt: skip
        return _spark_kmeans() + Pipeline([_served(models, behaviour)])
    kmeans = Pipeline([
        Node(sweep_k, ["model_input", "params:kmeans", ID_COLUMN], "k_selection", name="sweep_k"),
        Node(k_sweep_metrics, "k_selection", "k_sweep_metrics", name="k_sweep_metrics"),
        Node(choose_k, ["k_selection", "params:kmeans", "params:clustering"], "chosen_k",
             name="choose_k"),
        Node(
            train_kmeans, ["model_input", "chosen_k", "params:kmeans", ID_COLUMN],
            "kmeans_model", name="train_kmeans",
        ),
        Node(
            assign_segments, ["model_input", "kmeans_model", ID_COLUMN],
            "customer_segments", name="assign_segments",
        ),
        Node(
            evaluate_kmeans, ["model_input", "kmeans_model", "params:kmeans", ID_COLUMN],
            "kmeans_metrics", name="evaluate_kmeans",
        ),
        Node(
            profile_and_name_segments, ["customers_primary", "customer_segments", *NAMING],
            ["segment_profiles", "segment_names"], name="name_segments",
        ),
        Node(
            build_kmeans_segmenter,
            [*fitted, "kmeans_model", "segment_names", "customer_segments"],
            "kmeans_segmenter", name="build_kmeans_segmenter",
        ),
    ])  # fmt: skip
    mixed = ["kprototypes_input", "params:kprototypes", ID_COLUMN]
    kprototypes = Pipeline([
        Node(sweep_kprototypes, mixed, "kprototypes_k_selection", name="sweep_kprototypes"),
        Node(
            k_sweep_metrics, "kprototypes_k_selection", "kprototypes_sweep_metrics",
            name="kprototypes_sweep_metrics",
        ),
        Node(
            choose_kprototypes_k,
            ["kprototypes_k_selection", "params:kprototypes", "params:clustering"],
            "chosen_kprototypes_k", name="choose_kprototypes_k",
        ),
        Node(
            train_kprototypes,
            ["kprototypes_input", "chosen_kprototypes_k", "params:kprototypes", ID_COLUMN],
            "kprototypes_model", name="train_kprototypes",
        ),
        Node(
            assign_kprototypes_segments, ["kprototypes_input", "kprototypes_model", ID_COLUMN],
            "kprototypes_segments", name="assign_kprototypes_segments",
        ),
        Node(evaluate_kprototypes, [*mixed[:1], "kprototypes_model", *mixed[1:]],
             "kprototypes_metrics", name="evaluate_kprototypes"),
        Node(
            profile_and_name_segments, ["customers_primary", "kprototypes_segments", *NAMING],
            ["kprototypes_segment_profiles", "kprototypes_segment_names"],
            name="name_kprototypes_segments",
        ),
        Node(
            build_kprototypes_segmenter,
            [*fitted, "kprototypes_model", "kprototypes_segment_names", "kprototypes_segments"],
            "kprototypes_segmenter", name="build_kprototypes_segmenter",
        ),
    ])  # fmt: skip
    by_model = {"kmeans": kmeans, "kprototypes": kprototypes}
    return sum((by_model[model] for model in models), start=Pipeline([])) + Pipeline(
        [_served(models, behaviour)])


def _served(models: Sequence[str], behaviour: bool) -> Node:
    return Node(
        build_served_segmenter,
        {"serving": "params:serving", **{model: f"{model}_segmenter" for model in models},
         **({name: f"params:{name}" for name in ("transactions", "behaviour", "raw_schema")}
            if behaviour else {})},
        "segmenter", name="build_segmenter",
    )  # fmt: skip


def _spark_kmeans() -> Pipeline:
    """K-Means on Spark: the pandas pipeline's datasets, from its Spark twins' nodes."""
    from .spark_nodes import (
        assign_segments_on_spark,
        build_kmeans_segmenter_on_spark,
        evaluate_kmeans_on_spark,
        sample_segmented_customers,
        sweep_k_on_spark,
        train_kmeans_on_spark,
    )

    settings = ["params:kmeans", "params:on_spark", ID_COLUMN]
    sampled = ["customers_primary_sample", "customer_segments_sample"]
    return Pipeline([
        Node(sweep_k_on_spark, ["model_input", *settings], "k_selection", name="sweep_k"),
        Node(k_sweep_metrics, "k_selection", "k_sweep_metrics", name="k_sweep_metrics"),
        Node(choose_k, ["k_selection", "params:kmeans", "params:clustering"], "chosen_k",
             name="choose_k"),
        Node(train_kmeans_on_spark, ["model_input", "chosen_k", *settings], "kmeans_model",
             name="train_kmeans"),
        Node(assign_segments_on_spark, ["model_input", "kmeans_model", ID_COLUMN],
             "customer_segments", name="assign_segments"),
        Node(evaluate_kmeans_on_spark, ["model_input", "kmeans_model", "params:kmeans", ID_COLUMN],
             "kmeans_metrics", name="evaluate_kmeans"),
        Node(sample_segmented_customers,
             ["customers_primary", "customer_segments", "params:on_spark", ID_COLUMN], sampled,
             name="sample_segmented_customers"),
        Node(profile_and_name_segments, [*sampled, *NAMING],
             ["segment_profiles", "segment_names"], name="name_segments"),
        Node(build_kmeans_segmenter_on_spark,
             ["preprocessor", "pca", "kmeans_model", "segment_names"], "kmeans_segmenter",
             name="build_kmeans_segmenter"),
    ])  # fmt: skip
