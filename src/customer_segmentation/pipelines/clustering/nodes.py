"""Nodes of the K-Means k sweep, k choice, final fit and segment assignment."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from customer_segmentation.behaviour import BehaviourSpec
from customer_segmentation.features import FittedFeatures
from customer_segmentation.segmenter import Segmenter, build_segmenter
from customer_segmentation.segments import (
    name_segments,
    nearest,
    pick_k,
    profile_segments,
    segment_order,
    smallest_share,
)

logger = logging.getLogger(__name__)


def sweep_k(model_input: pd.DataFrame, kmeans: dict[str, Any], id_column: str) -> pd.DataFrame:
    """Fit K-Means for every k in ``k_min..k_max`` and score each fit.

    Above ``sweep_sample_size`` rows the sweep fits a seeded sample (``sweep_sample``): the
    inertia curve's shape, which decides k, is stable long before a million rows, and the
    final model is fitted on every row. Silhouette is computed on a seeded sample of
    ``silhouette_sample_size`` rows when the data is larger (it is quadratic in rows).

    Args:
        model_input: Model features with the identifier column.
        kmeans: The ``kmeans`` parameters.
        id_column: Name of the identifier column, left out of the features.

    Returns:
        One row per k: ``k``, ``inertia``, ``silhouette``, ``calinski_harabasz``,
        ``davies_bouldin``, ``smallest_share`` (of the customers fitted), ``fit_seconds``.
    """
    features = _features(sweep_sample(model_input, kmeans), id_column)
    ks = range(kmeans["k_min"], kmeans["k_max"] + 1)
    rows, started = [], time.perf_counter()
    for done, k in enumerate(ks, start=1):
        fit_started = time.perf_counter()
        model = _kmeans(k, kmeans).fit(features)
        scores = _scores(features, model, kmeans)
        rows.append({"k": k, **scores, "smallest_share": smallest_share(model.labels_, k),
                     "fit_seconds": time.perf_counter() - fit_started})  # fmt: skip
        elapsed = time.perf_counter() - started
        logger.info(
            "k sweep: k=%d done (%d of %d), %d rows in %.1f s; elapsed %.1f s, about %.0f s "
            "left", k, done, len(ks), len(features), rows[-1]["fit_seconds"], elapsed,
            elapsed / done * (len(ks) - done),
        )  # fmt: skip
    return pd.DataFrame(rows)


def sweep_sample(frame: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """The rows a k sweep fits: all, or a seeded sample of ``sweep_sample_size`` above it."""
    return seeded_sample(frame, settings["sweep_sample_size"], settings["random_state"])


def seeded_sample(frame: pd.DataFrame, size: int | None, random_state: int) -> pd.DataFrame:
    """All rows, or a seeded sample of ``size`` of them (in table order) when there are more."""
    if size is None or len(frame) <= size:
        return frame
    return frame.sample(n=size, random_state=random_state).sort_index()


def k_sweep_metrics(k_selection: pd.DataFrame) -> dict[str, list[dict[str, float]]]:
    """Each score of the k sweep as a metric history whose step is k."""
    ks = k_selection["k"].astype(int).tolist()
    return {
        name: [{"value": float(value), "step": k} for k, value in zip(ks, values, strict=True)]
        for name, values in k_selection.drop(columns="k").items()
    }


def choose_k(k_selection: pd.DataFrame, kmeans: dict[str, Any], clustering: dict[str, Any]) -> int:
    """Pick the number of K-Means segments.

    ``kmeans.k`` as an integer is used as is. ``auto`` takes the knee of the inertia curve
    found by kneed (convex, decreasing, sensitivity ``knee_sensitivity``; kneed's offline
    mode returns the first knee, i.e. the smallest such k). When kneed finds no knee, the k
    with the highest silhouette is taken, the smaller k on a tie. A k with a segment under
    ``clustering.min_segment_share`` of the customers is not chosen (``segments.pick_k``).

    Args:
        k_selection: The k sweep's scores.
        kmeans: The ``kmeans`` parameters.
        clustering: The ``clustering`` parameters (``min_segment_share``).

    Returns:
        The chosen k.
    """
    return pick_k(k_selection, kmeans, curve="inertia", quality="silhouette",
                  min_segment_share=clustering.get("min_segment_share", 0.0))  # fmt: skip


def train_kmeans(
    model_input: pd.DataFrame, k: int, kmeans: dict[str, Any], id_column: str
) -> KMeans:
    """Fit the final K-Means with ``k`` clusters, numbered by a stable rule.

    Segment ids are ordered by segment size, largest first; equal sizes are ordered by
    their centroids' coordinates. Reruns on the same data therefore give the same ids, even
    where K-Means itself would number the clusters differently.

    Args:
        model_input: Model features with the identifier column.
        k: Number of clusters.
        kmeans: The ``kmeans`` parameters.
        id_column: Name of the identifier column, left out of the features.

    Returns:
        The fitted model; ``predict`` returns the ordered segment ids.
    """
    started = time.perf_counter()
    model = _kmeans(k, kmeans).fit(_features(model_input, id_column))
    order = segment_order(model.labels_, model.cluster_centers_)
    model.cluster_centers_ = model.cluster_centers_[order]
    model.labels_ = np.argsort(order)[model.labels_].astype(model.labels_.dtype)
    logger.info(
        "Fitted K-Means with k=%d on %d customers in %.1f s (inertia %.4g); segment sizes %s",
        k,
        len(model_input),
        time.perf_counter() - started,
        model.inertia_,
        np.bincount(model.labels_).tolist(),
    )
    return model


def assign_segments(
    model_input: pd.DataFrame, kmeans_model: KMeans, id_column: str
) -> pd.DataFrame:
    """Give every customer its segment.

    Args:
        model_input: Model features with the identifier column.
        kmeans_model: The fitted model.
        id_column: Name of the identifier column.

    Returns:
        ``id_column`` and ``segment`` (int), one row per customer, in input order.
    """
    segments = nearest(_features(model_input, id_column), kmeans_model.cluster_centers_)
    return pd.DataFrame({id_column: model_input[id_column].to_numpy(), "segment": segments})


def evaluate_kmeans(
    model_input: pd.DataFrame, kmeans_model: KMeans, kmeans: dict[str, Any], id_column: str
) -> dict[str, dict[str, float]]:
    """The final model's k and scores, as tracking metrics (``{name: {"value", "step"}}``).

    Args:
        model_input: Model features with the identifier column.
        kmeans_model: The fitted model.
        kmeans: The ``kmeans`` parameters (for the silhouette sample).
        id_column: Name of the identifier column.

    Returns:
        ``k``, ``inertia``, ``silhouette``, ``calinski_harabasz``, ``davies_bouldin``.
    """
    scores = _scores(_features(model_input, id_column), kmeans_model, kmeans)
    metrics = {"k": float(kmeans_model.n_clusters), **scores}
    logger.info("Final K-Means: %s", ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return {name: {"value": value, "step": 0} for name, value in metrics.items()}


def _scores(features: np.ndarray, model: KMeans, kmeans: dict[str, Any]) -> dict[str, float]:
    """Inertia, silhouette (sampled above ``silhouette_sample_size`` rows), CH and DB."""
    labels = model.labels_
    sample_size = kmeans["silhouette_sample_size"]
    return {
        "inertia": float(model.inertia_),
        "silhouette": float(silhouette_score(
            features, labels, random_state=kmeans["random_state"],
            sample_size=sample_size if len(features) > sample_size else None,
        )),
        "calinski_harabasz": float(calinski_harabasz_score(features, labels)),
        "davies_bouldin": float(davies_bouldin_score(features, labels)),
    }  # fmt: skip


def _kmeans(k: int, kmeans: dict[str, Any]) -> KMeans:
    return KMeans(
        n_clusters=k,
        n_init=kmeans["n_init"],
        max_iter=kmeans["max_iter"],
        random_state=kmeans["random_state"],
    )


def _features(model_input: pd.DataFrame, id_column: str) -> np.ndarray:
    return model_input.drop(columns=id_column).to_numpy(dtype="float64")


def profile_and_name_segments(
    customers_primary: pd.DataFrame,
    segments: pd.DataFrame,
    preprocessor: FittedFeatures,
    reporting: dict[str, Any],
) -> tuple[pd.DataFrame, dict[int, str]]:
    """One model's segment profiles (raw units, legend labels) and segment names.

    Args:
        customers_primary: Valid customers.
        segments: Identifier and segment of each customer.
        preprocessor: The fitted features (the columns profiled, and the day dates count to).
        reporting: The ``reporting`` parameters (``naming`` and fixed ``segment_names``).

    Returns:
        The profiles (``segments.profile_segments``) and segment id to name.
    """
    spec = preprocessor.spec
    profiles = profile_segments(customers_primary, segments, spec, preprocessor.as_of)
    return profiles, name_segments(profiles, spec, reporting["naming"],
                                   reporting.get("segment_names"))  # fmt: skip


def build_kmeans_segmenter(
    preprocessor: FittedFeatures,
    pca: Any,
    kmeans_model: KMeans,
    segment_names: dict[int, str],
    customer_segments: pd.DataFrame,
) -> Segmenter:
    """The K-Means segmenter: raw row to named K-Means segment."""
    return _segmenter("kmeans", preprocessor, pca, kmeans_model, segment_names, customer_segments)


def build_kprototypes_segmenter(
    preprocessor: FittedFeatures,
    pca: Any,
    kprototypes_model: Any,
    kprototypes_segment_names: dict[int, str],
    kprototypes_segments: pd.DataFrame,
) -> Segmenter:
    """The K-Prototypes segmenter: raw row to named K-Prototypes segment."""
    return _segmenter("kprototypes", preprocessor, pca, kprototypes_model,
                      kprototypes_segment_names, kprototypes_segments)  # fmt: skip


def _segmenter(
    algorithm: str, preprocessor: FittedFeatures, pca: Any, model: Any,
    names: dict[int, str], segments: pd.DataFrame,
) -> Segmenter:  # fmt: skip
    sizes = np.bincount(segments["segment"], minlength=len(names))
    return build_segmenter(preprocessor, model, algorithm, names, sizes, pca)


def build_served_segmenter(
    serving: dict[str, Any], transactions: dict[str, Any] | None = None,
    behaviour: dict[str, Any] | None = None, raw_schema: dict[str, Any] | None = None,
    **segmenters: Segmenter,
) -> Segmenter:  # fmt: skip
    """The segmenter of the model named in ``serving.model``: the one scoring artifact.

    This is the only node that reads ``serving.model``: batch scoring, the MLflow model and
    the API serve whatever segmenter training wrote last.

    Args:
        serving: The ``serving`` parameters.
        transactions: The ``transactions`` parameters, when the run segmented on behaviour:
            with ``behaviour`` and ``raw_schema`` they say how it was derived from the log,
            which the segmenter keeps to derive it the same way when scoring.
        behaviour: The ``behaviour`` parameters (its window), with ``transactions``.
        raw_schema: The ``raw_schema`` parameters (the identifier's type), with them.
        **segmenters: The segmenter of each model this run fitted, by algorithm.

    Returns:
        The served ``Segmenter`` (``customer_segmentation.segmenter``).
    """
    algorithm = serving["model"]
    if algorithm not in segmenters:
        raise ValueError(
            f"serving.model is {algorithm!r}, but this run fitted only {', '.join(segmenters)} "
            "(clustering.models)"
        )
    derived = (BehaviourSpec.from_params(transactions, behaviour or {}, raw_schema or {})
               if transactions is not None else None)  # fmt: skip
    segmenter = replace(segmenters[algorithm], behaviour=derived)
    logger.info("Serving %s with k=%d: segment sizes %s",
                algorithm, segmenter.k, list(segmenter.sizes))  # fmt: skip
    return segmenter
