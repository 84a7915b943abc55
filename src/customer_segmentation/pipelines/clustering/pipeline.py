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
        engine: ``pandas``, or ``spark``: K-Means on Spark, K-Prototypes fitted to a
            seeded sample on the driver; every row assigned on the executors, the segments
            profiled and named on a seeded sample.
    """
    fitted = ["preprocessor", "pca"]
    if engine == "spark":
        return _on_spark(models) + Pipeline([_served(models, behaviour)])
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


def _on_spark(models: Sequence[str]) -> Pipeline:
    """The models on Spark: the pandas pipeline's datasets, from Spark twins of its nodes.

    K-Means runs on Spark. K-Prototypes is fitted by the pandas nodes on the driver, to the
    seeded sample ``kprototypes_input_sample``, and assigns every row on the executors.
    """
    from .spark_nodes import (
        assign_kprototypes_segments_on_spark,
        assign_segments_on_spark,
        build_kmeans_segmenter_on_spark,
        build_kprototypes_segmenter_on_spark,
        evaluate_kmeans_on_spark,
        sample_segmented_customers,
        sweep_k_on_spark,
        train_kmeans_on_spark,
    )

    settings = ["params:kmeans", "params:on_spark", ID_COLUMN]
    segments = {"kmeans": "customer_segments", "kprototypes": "kprototypes_segments"}
    kmeans = Pipeline([
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
        Node(profile_and_name_segments,
             ["customers_primary_sample", "customer_segments_sample", *NAMING],
             ["segment_profiles", "segment_names"], name="name_segments"),
        Node(build_kmeans_segmenter_on_spark,
             ["preprocessor", "pca", "kmeans_model", "segment_names"], "kmeans_segmenter",
             name="build_kmeans_segmenter"),
    ])  # fmt: skip
    sample, mixed = "kprototypes_input_sample", ["params:kprototypes", ID_COLUMN]
    kprototypes = Pipeline([
        Node(sweep_kprototypes, [sample, *mixed], "kprototypes_k_selection",
             name="sweep_kprototypes"),
        Node(k_sweep_metrics, "kprototypes_k_selection", "kprototypes_sweep_metrics",
             name="kprototypes_sweep_metrics"),
        Node(choose_kprototypes_k,
             ["kprototypes_k_selection", "params:kprototypes", "params:clustering"],
             "chosen_kprototypes_k", name="choose_kprototypes_k"),
        Node(train_kprototypes, [sample, "chosen_kprototypes_k", *mixed], "kprototypes_model",
             name="train_kprototypes"),
        Node(assign_kprototypes_segments_on_spark,
             ["kprototypes_input", "kprototypes_model", ID_COLUMN], "kprototypes_segments",
             name="assign_kprototypes_segments"),
        Node(evaluate_kprototypes, [sample, "kprototypes_model", *mixed], "kprototypes_metrics",
             name="evaluate_kprototypes"),
        Node(profile_and_name_segments,
             ["customers_primary_sample", "kprototypes_segments_sample", *NAMING],
             ["kprototypes_segment_profiles", "kprototypes_segment_names"],
             name="name_kprototypes_segments"),
        Node(build_kprototypes_segmenter_on_spark,
             [*("preprocessor", "pca", "kprototypes_model", "kprototypes_segment_names"),
              "kprototypes_segments"], "kprototypes_segmenter",
             name="build_kprototypes_segmenter"),
    ])  # fmt: skip
    sampled = Node(
        sample_segmented_customers,
        {"customers_primary": "customers_primary", "on_spark": "params:on_spark",
         "id_column": ID_COLUMN, **{model: segments[model] for model in models}},
        ["customers_primary_sample", *(f"{segments[model]}_sample" for model in models)],
        name="sample_segmented_customers",
    )  # fmt: skip
    by_model = {"kmeans": kmeans, "kprototypes": kprototypes}
    return sum((by_model[model] for model in models), start=Pipeline([sampled]))
