"""The Spark twins of the K-Means nodes: pyspark.ml's k-means|| on every row, exported as
the same segmenter; what describes the segments reads a seeded sample on the driver."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from customer_segmentation.features import FittedFeatures
from customer_segmentation.segmenter import Segmenter, build_segmenter
from customer_segmentation.segments import KMeansCentres, nearest
from customer_segmentation.spark import (
    assign_on_spark,
    feature_vectors,
    fit_kmeans,
    in_parallel,
    sampled_rows,
    seeded_sample,
    segment_sizes,
)

logger = logging.getLogger(__name__)


def sweep_k_on_spark(
    model_input: DataFrame, kmeans: dict[str, Any], on_spark: dict[str, Any], id_column: str
) -> pd.DataFrame:
    """``sweep_k`` on Spark: k-means|| for every k in ``k_min..k_max``, each fit scored.

    Above ``kmeans.sweep_sample_size`` rows the sweep fits a seeded sample, as the pandas
    path does; each k takes the best of ``on_spark.sweep_n_init`` seeded runs, and
    ``on_spark.parallelism`` ks are fitted at once. Silhouette, Calinski-Harabasz and
    Davies-Bouldin are scikit-learn's, of a seeded sample of ``silhouette_sample_size`` rows
    on the driver, so that they mean what they mean in a pandas run.

    Returns:
        One row per k, with ``sweep_k``'s columns (``fit_seconds``: the k's own fit, which
        shares the machine with the fits beside it).
    """
    sample = sampled_rows(model_input, kmeans["sweep_sample_size"], kmeans["random_state"])
    vectors = feature_vectors(sample, id_column).select("features").cache()
    scored = _points(model_input, kmeans, id_column)
    ks = range(kmeans["k_min"], kmeans["k_max"] + 1)

    def fit(k: int) -> tuple[KMeansCentres, float]:
        fit_started = time.perf_counter()
        return fit_kmeans(vectors, k, kmeans, on_spark["sweep_n_init"]), (
            time.perf_counter() - fit_started)

    rows, started = [], time.perf_counter()
    fits = in_parallel(vectors.sparkSession, fit, ks, on_spark["parallelism"])
    for done, (k, (model, fit_seconds)) in enumerate(zip(ks, fits, strict=True), start=1):
        sizes = np.array(model.sizes)
        rows.append({"k": k, **_scores(scored, model, kmeans),
                     "smallest_share": float(sizes.min() / sizes.sum()),
                     "fit_seconds": fit_seconds})  # fmt: skip
        elapsed = time.perf_counter() - started
        logger.info("k sweep on Spark: k=%d done (%d of %d) in %.1f s; elapsed %.1f s, about "
                    "%.0f s left", k, done, len(ks), fit_seconds, elapsed,
                    elapsed / done * (len(ks) - done))  # fmt: skip
    vectors.unpersist()
    return pd.DataFrame(rows)


def train_kmeans_on_spark(
    model_input: DataFrame, k: int, kmeans: dict[str, Any], on_spark: dict[str, Any],
    id_column: str,
) -> KMeansCentres:  # fmt: skip
    """``train_kmeans`` on Spark: the best of ``on_spark.kmeans_n_init`` seeded k-means||
    fits on every row (``on_spark.parallelism`` at once), its segments numbered by the
    stable rule (largest first)."""
    started = time.perf_counter()
    vectors = feature_vectors(model_input, id_column).select("features").cache()
    model = fit_kmeans(vectors, k, kmeans, on_spark["kmeans_n_init"], on_spark["parallelism"])
    vectors.unpersist()
    logger.info("Fitted K-Means on Spark with k=%d in %.1f s (inertia %.4g); segment sizes %s",
                k, time.perf_counter() - started, model.inertia_, list(model.sizes))  # fmt: skip
    return model


def assign_segments_on_spark(
    model_input: DataFrame, kmeans_model: KMeansCentres, id_column: str
) -> DataFrame:
    """``id_column`` and ``segment`` of every customer, on the executors."""
    return assign_on_spark(model_input, kmeans_model, id_column)


def assign_kprototypes_segments_on_spark(
    kprototypes_input: DataFrame, kprototypes_model: Any, id_column: str
) -> DataFrame:
    """Every customer's K-Prototypes segment, on the executors: the model fitted on the
    driver's sample (``on_spark.kprototypes_sample_size``), its ``predict`` per batch."""
    return assign_on_spark(kprototypes_input, kprototypes_model, id_column)


def evaluate_kmeans_on_spark(
    model_input: DataFrame, kmeans_model: KMeansCentres, kmeans: dict[str, Any], id_column: str
) -> dict[str, dict[str, float]]:
    """``evaluate_kmeans`` on Spark: k and the inertia of every row; the other scores of a
    seeded sample of ``silhouette_sample_size`` rows (``sweep_k_on_spark``)."""
    scores = _scores(_points(model_input, kmeans, id_column), kmeans_model, kmeans)
    metrics = {"k": float(kmeans_model.n_clusters), **scores}
    logger.info("Final K-Means: %s", ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return {name: {"value": value, "step": 0} for name, value in metrics.items()}


def sample_segmented_customers(
    customers_primary: DataFrame, on_spark: dict[str, Any], id_column: str,
    **segments: DataFrame,
) -> tuple[pd.DataFrame, ...]:  # fmt: skip
    """A seeded sample of ``on_spark.driver_sample_size`` customers with their segments, on
    the driver (every customer of a smaller table): what profiles and names the segments.

    Args:
        customers_primary: Valid customers.
        on_spark: The ``on_spark`` parameters.
        id_column: The identifier column.
        **segments: Each model's segments, by model.

    Returns:
        The sampled customers, then each model's segments of the same customers.
    """
    joined = customers_primary
    for model, frame in segments.items():
        joined = joined.join(frame.withColumnRenamed("segment", f"segment__{model}"), id_column)
    sample = seeded_sample(joined, on_spark["driver_sample_size"], on_spark["random_state"])
    columns = [f"segment__{model}" for model in segments]
    return (sample.drop(columns=columns),
            *(sample[[id_column, column]].rename(columns={column: "segment"})
              for column in columns))  # fmt: skip


def build_kmeans_segmenter_on_spark(
    preprocessor: FittedFeatures, pca: Any, kmeans_model: KMeansCentres,
    segment_names: dict[int, str],
) -> Segmenter:  # fmt: skip
    """The K-Means segmenter of a Spark fit: the same artifact as the pandas path's, its
    segment sizes those of every customer."""
    return build_segmenter(preprocessor, kmeans_model, "kmeans", segment_names,
                           np.array(kmeans_model.sizes), pca)  # fmt: skip


def build_kprototypes_segmenter_on_spark(
    preprocessor: FittedFeatures, pca: Any, kprototypes_model: Any,
    kprototypes_segment_names: dict[int, str], kprototypes_segments: DataFrame,
) -> Segmenter:  # fmt: skip
    """The K-Prototypes segmenter of a model fitted on the driver's sample, its segment
    sizes those of every customer."""
    sizes = segment_sizes(kprototypes_segments, kprototypes_model.n_clusters)
    return build_segmenter(preprocessor, kprototypes_model, "kprototypes",
                           kprototypes_segment_names, sizes, pca)  # fmt: skip


def _points(model_input: DataFrame, kmeans: dict[str, Any], id_column: str) -> np.ndarray:
    sample = seeded_sample(model_input, kmeans["silhouette_sample_size"], kmeans["random_state"])
    return sample.drop(columns=id_column).to_numpy(dtype=np.float64)


def _scores(points: np.ndarray, model: KMeansCentres, kmeans: dict[str, Any]) -> dict[str, float]:
    labels = nearest(points, model.cluster_centers_)
    several = len(np.unique(labels)) > 1
    return {
        "inertia": model.inertia_,
        "silhouette": float(silhouette_score(points, labels, random_state=kmeans["random_state"]))
        if several else float("nan"),
        "calinski_harabasz": float(calinski_harabasz_score(points, labels)) if several else 0.0,
        "davies_bouldin": float(davies_bouldin_score(points, labels)) if several else 0.0,
    }  # fmt: skip
