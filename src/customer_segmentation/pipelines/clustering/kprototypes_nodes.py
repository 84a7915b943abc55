"""Nodes of the K-Prototypes k sweep, k choice, final fit and segment assignment."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from customer_segmentation.kprototypes import KPrototypes
from customer_segmentation.segments import pick_k, segment_order, smallest_share

from .nodes import seeded_sample, sweep_sample

logger = logging.getLogger(__name__)


def sweep_kprototypes(
    kprototypes_input: pd.DataFrame, kprototypes: dict[str, Any], id_column: str
) -> pd.DataFrame:
    """Fit K-Prototypes for every k in ``k_min..k_max`` and score each fit.

    Above ``sweep_sample_size`` rows the sweep fits a seeded sample: the cost curve's shape,
    which decides k, is stable long before a million rows, and the final model is fitted on
    every row.

    Args:
        kprototypes_input: Scaled numeric features (float) and categorical positions (int),
            with the identifier.
        kprototypes: The ``kprototypes`` parameters.
        id_column: Name of the identifier column, left out of the features.

    Returns:
        One row per k: ``k``, ``cost``, ``silhouette_gower``, ``smallest_share`` (of the
        customers fitted), ``fit_seconds``.
    """
    sample = sweep_sample(kprototypes_input, kprototypes)
    X, categorical = mixed_input(sample, id_column)
    ks = range(kprototypes["k_min"], kprototypes["k_max"] + 1)
    rows, started = [], time.perf_counter()
    for done, k in enumerate(ks, start=1):
        fit_started = time.perf_counter()
        model = _model(k, categorical, kprototypes).fit(X)
        rows.append({
            "k": k,
            "cost": model.cost_,
            "silhouette_gower": gower_silhouette(X, categorical, model.labels_, kprototypes),
            "smallest_share": smallest_share(model.labels_, k),
            "fit_seconds": time.perf_counter() - fit_started,
        })  # fmt: skip
        elapsed = time.perf_counter() - started
        logger.info(
            "K-Prototypes sweep (%s engine, %d rows): k=%d done (%d of %d) in %.1f s; "
            "elapsed %.1f s, about %.0f s left",
            kprototypes["engine"], len(sample), k, done, len(ks), rows[-1]["fit_seconds"],
            elapsed, elapsed / done * (len(ks) - done),
        )  # fmt: skip
    return pd.DataFrame(rows)


def choose_kprototypes_k(
    k_selection: pd.DataFrame, kprototypes: dict[str, Any], clustering: dict[str, Any]
) -> int:
    """Pick k for K-Prototypes: an integer ``k``, or ``auto``: the knee of the cost curve.

    Same rule as K-Means' ``choose_k`` (``min_segment_share`` included); the fallback is the
    best Gower silhouette.
    """
    return pick_k(k_selection, kprototypes, curve="cost", quality="silhouette_gower",
                  min_segment_share=clustering.get("min_segment_share", 0.0))  # fmt: skip


def train_kprototypes(
    kprototypes_input: pd.DataFrame, k: int, kprototypes: dict[str, Any], id_column: str
) -> KPrototypes:
    """Fit the final K-Prototypes on every row, segments numbered as K-Means' are.

    Above ``fit_sample_size`` rows the ``n_init`` starts run on a seeded sample of that size
    (gamma is estimated there too), and the best one's prototypes start one run on every
    row: the starts compete where it is cheap, the model converges on all the data.

    Returns:
        The fitted model; ``predict`` returns the ordered segment ids.
    """
    X, categorical = mixed_input(kprototypes_input, id_column)
    model = _model(k, categorical, kprototypes)
    sample = seeded_sample(kprototypes_input, kprototypes.get("fit_sample_size"),
                           kprototypes["random_state"])  # fmt: skip
    if len(sample) < len(X):
        model.fit(mixed_input(sample, id_column)[0])
        logger.info("K-Prototypes: the best of %d starts on %d sampled rows starts the run on "
                    "all %d rows", model.n_init, len(sample), len(X))  # fmt: skip
        model.set_params(gamma=model.gamma_)
        model.fit(X, init=(model.numeric_centroids_, model.categorical_centroids_))
    else:
        model.fit(X)
    prototypes = np.hstack([model.numeric_centroids_, model.categorical_centroids_])
    model.renumber(segment_order(model.labels_, prototypes))
    logger.info("K-Prototypes segment sizes %s", np.bincount(model.labels_).tolist())
    return model


def assign_kprototypes_segments(
    kprototypes_input: pd.DataFrame, kprototypes_model: KPrototypes, id_column: str
) -> pd.DataFrame:
    """Every customer's K-Prototypes segment: ``id_column`` and ``segment``, in input order."""
    segments = kprototypes_model.predict(mixed_input(kprototypes_input, id_column)[0])
    return pd.DataFrame({id_column: kprototypes_input[id_column].to_numpy(), "segment": segments})


def evaluate_kprototypes(
    kprototypes_input: pd.DataFrame,
    kprototypes_model: KPrototypes,
    kprototypes: dict[str, Any],
    id_column: str,
) -> dict[str, dict[str, float]]:
    """The final model's k, gamma, cost and Gower silhouette as tracking metrics."""
    X, categorical = mixed_input(kprototypes_input, id_column)
    metrics = {
        "k": float(kprototypes_model.n_clusters),
        "gamma": kprototypes_model.gamma_,
        "cost": kprototypes_model.cost_,
        "silhouette_gower": gower_silhouette(
            X, categorical, kprototypes_model.labels_, kprototypes
        ),
    }
    logger.info("Final K-Prototypes: %s", ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return {name: {"value": value, "step": 0} for name, value in metrics.items()}


def mixed_input(frame: pd.DataFrame, id_column: str) -> tuple[np.ndarray, list[int]]:
    """K-Prototypes' ``X`` and the indices of its categorical (integer) columns."""
    features = frame.drop(columns=id_column)
    categorical = [i for i, dtype in enumerate(features.dtypes) if dtype.kind in "iu"]
    return features.to_numpy(dtype="float64"), categorical


def gower_silhouette(
    X: np.ndarray, categorical: list[int], labels: np.ndarray, kprototypes: dict[str, Any]
) -> float:
    """Mean silhouette under Gower's distance, on a seeded sample.

    Gower's distance averages, over features, ``|a - b| / range`` for numeric features and
    0/1 mismatch for categorical ones, so it treats categories as categories.
    """
    numeric, categorical = np.delete(X, categorical, axis=1), X[:, categorical]
    rng = np.random.default_rng(kprototypes["random_state"])
    size = min(len(labels), kprototypes["silhouette_sample_size"])
    rows = np.sort(rng.choice(len(labels), size=size, replace=False))
    if len(np.unique(labels[rows])) < 2:
        return float("nan")
    spans = np.ptp(numeric, axis=0)
    spans[spans == 0] = 1.0
    distance = np.zeros((size, size))
    for column, span in zip(numeric[rows].T, spans, strict=True):
        distance += np.abs(column[:, None] - column[None, :]) / span
    for column in categorical[rows].T:
        distance += column[:, None] != column[None, :]
    distance /= numeric.shape[1] + categorical.shape[1]
    return float(silhouette_score(distance, labels[rows], metric="precomputed"))


def _model(k: int, categorical: list[int], kprototypes: dict[str, Any]) -> KPrototypes:
    return KPrototypes(
        n_clusters=k, categorical=categorical, gamma=kprototypes["gamma"],
        n_init=kprototypes["n_init"], max_iter=kprototypes["max_iter"],
        random_state=kprototypes["random_state"], engine=kprototypes["engine"],
        n_jobs=kprototypes.get("n_jobs"),
    )  # fmt: skip
