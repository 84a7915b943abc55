"""The fitted segmenter: the one implementation of raw customer row → segment.

Training ends by building one ``Segmenter`` (the ``segmenter`` dataset): the fitted feature
transformation, the served model's centres, the segment names and the PCA plane. Batch
scoring, the MLflow model and the API all score through it:

- ``predict(raw_frame)`` checks a raw table (``validation.split_rows``), scores the valid
  rows and returns every row in input order with its segment or its reason;
- ``segments(numeric, positions)`` is the array path under it, which the API calls directly
  for small requests: a few microseconds of NumPy per customer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.behaviour import BehaviourSpec
from customer_segmentation.features import FeatureSpec, FittedFeatures
from customer_segmentation.schema import integer_identifiers
from customer_segmentation.segments import nearest, segment_name
from customer_segmentation.validation import split_rows

logger = logging.getLogger(__name__)
ALGORITHMS = ("kmeans", "kprototypes")
OUTPUT_COLUMNS = ("segment", "segment_name", "reason")


@dataclass(frozen=True)
class Segmenter:
    """A fitted segmentation, from raw values to named segments.

    Attributes:
        features: The fitted feature transformation.
        algorithm: ``kmeans`` or ``kprototypes``.
        centres: K-Means centres in model-feature space, or K-Prototypes' numeric prototypes.
        modes: K-Prototypes' categorical prototypes (legend positions); empty for K-Means.
        gamma: K-Prototypes' weight of one categorical mismatch; 0 for K-Means.
        names: Segment id to name.
        sizes: Customers per segment in training.
        pca_mean: Mean of the model features, for the PCA plane.
        pca_components: The two PCA axes, ``(2, n_features)``.
        pca_explained: Share of the variance on each axis.
        behaviour: How training derived behaviour features from a transaction log, when it
            segmented on them (``segment_on: behaviour`` or ``both``); else ``None``.
    """

    features: FittedFeatures
    algorithm: str
    centres: np.ndarray
    modes: np.ndarray
    gamma: float
    names: dict[int, str]
    sizes: tuple[int, ...]
    pca_mean: np.ndarray
    pca_components: np.ndarray
    pca_explained: tuple[float, ...]
    behaviour: BehaviourSpec | None = None

    @property
    def spec(self) -> FeatureSpec:
        """The feature specification the segmenter was trained with."""
        return self.features.spec

    @property
    def k(self) -> int:
        """Number of segments."""
        return len(self.centres)

    def segments(self, numeric: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The segment of each row from raw numeric values and legend positions.

        Args:
            numeric: Raw numeric feature values, ``(n_rows, len(spec.numeric))``.
            positions: Legend position of each categorical feature, ``(n_rows, n_categorical)``.

        Returns:
            Segment ids, ``(n_rows,)``.
        """
        if self.algorithm == "kmeans":
            return nearest(self.features.transform(numeric, positions), self.centres)
        mismatches = (self.features.grouped(positions)[:, None, :] != self.modes).sum(axis=2)
        return nearest(self.features.scaled_numeric(numeric), self.centres, self.gamma * mismatches)

    def project(self, numeric: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Rows on the training PCA plane, ``(n_rows, 2)``."""
        return (self.features.transform(numeric, positions) - self.pca_mean) @ self.pca_components.T

    def assign(self, valid: pd.DataFrame) -> pd.DataFrame:
        """Identifier, segment and segment name of valid, typed rows, in input order."""
        segments = self.segments(*self.features.arrays(valid))
        names = np.array([self.name(k) for k in range(self.k)], object)[segments]
        return pd.DataFrame({
            self.spec.id_column: valid[self.spec.id_column].to_numpy(),
            "segment": segments,
            "segment_name": pd.Series(names, dtype=object),  # as combine_scores gives it
        })  # fmt: skip

    def name(self, segment: int) -> str:
        """A segment's name."""
        return segment_name(segment, self.names)

    def predict(self, raw: pd.DataFrame, source: str = "the input") -> pd.DataFrame:
        """Score a raw table: one output row per input row, in input order.

        Args:
            raw: Raw customers with the raw schema's columns (the behaviour features among
                them when trained on behaviour: ``behaviour.add_behaviour`` joins them).
            source: Where the table came from, named in whole-file errors.

        Returns:
            The identifier, ``segment`` (empty when rejected), ``segment_name`` and ``reason``
            (empty when scored).

        Raises:
            RawDataError: The table lacks a required column or has no rows.
        """
        split = split_rows(raw, self.spec, source)
        return combine_scores(self.assign(split.valid), split.rejected, self.spec.id_column)


def build_segmenter(
    features: FittedFeatures, model: Any, algorithm: str, names: dict[int, str],
    segment_sizes: np.ndarray, pca: Any,
) -> Segmenter:  # fmt: skip
    """Assemble the segmenter from a fitted model (scikit-learn ``KMeans`` or ``KPrototypes``).

    Args:
        features: The fitted feature transformation.
        model: The fitted model of ``algorithm``.
        algorithm: ``kmeans`` or ``kprototypes``.
        names: Segment id to name.
        segment_sizes: Customers per segment in training.
        pca: The fitted two-component PCA of the model features.

    Returns:
        The segmenter.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"serving.model must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    kprototypes = algorithm == "kprototypes"
    return Segmenter(
        features=features,
        algorithm=algorithm,
        centres=np.asarray(model.numeric_centroids_ if kprototypes else model.cluster_centers_),
        modes=np.asarray(model.categorical_centroids_) if kprototypes else np.empty((0, 0), int),
        gamma=float(model.gamma_) if kprototypes else 0.0,
        names={int(k): str(v) for k, v in names.items()},
        sizes=tuple(int(size) for size in segment_sizes),
        pca_mean=pca.mean_,
        pca_components=pca.components_,
        pca_explained=tuple(float(share) for share in pca.explained_variance_ratio_),
    )


def trained_models(models: Sequence[str], spec: FeatureSpec, served: str) -> tuple[str, ...]:
    """The models a training run fits: ``clustering.models``, less K-Prototypes without both a
    numeric and a categorical feature (it mixes the two; K-Means covers either alone).

    Args:
        models: ``clustering.models``.
        spec: The feature specification.
        served: ``serving.model``, which must be among the models fitted.

    Raises:
        ValueError: An unknown or no model is listed, or the served model is not fitted.
    """
    if not models or any(model not in ALGORITHMS for model in models):
        raise ValueError(
            f"clustering.models must list one or more of {', '.join(ALGORITHMS)}, "
            f"got {list(models)!r}"
        )
    trained = tuple(dict.fromkeys(models))
    skipped = ""
    if "kprototypes" in trained and not (spec.numeric and spec.categorical):
        lacking = "categorical" if spec.numeric else "numeric"
        skipped = f"K-Prototypes is skipped: the features have no {lacking} column"
        logger.info("%s; it needs numeric and categorical ones.", skipped)
        trained = tuple(model for model in trained if model != "kprototypes")
    if served not in trained:
        raise ValueError(
            f"serving.model is {served!r}, which this run does not fit: clustering.models is "
            f"{list(models)}{'; ' + skipped if skipped else ''}. Serve one of "
            f"{', '.join(trained) or 'them'}."
        )
    return trained


def combine_scores(scored: pd.DataFrame, rejected: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Put scored and rejected rows back together, in the order they came in.

    Args:
        scored: Identifier, segment and segment name of each valid row, in input order.
        rejected: Rejected rows as read, with ``raw_row`` and ``reason``.
        id_column: The identifier column.

    Returns:
        ``id_column``, ``segment`` (nullable integer), ``segment_name`` and ``reason``.
    """
    valid = np.ones(len(scored) + len(rejected), dtype=bool)
    valid[rejected["raw_row"].to_numpy(dtype="int64")] = False
    scored = scored.set_axis(np.flatnonzero(valid))
    bad = rejected[[id_column, "reason"]].set_axis(rejected["raw_row"].to_numpy())
    bad_ids = bad[id_column]
    if scored[id_column].dtype.kind in "iu":  # keep integer IDs integers where they parse
        parsed = integer_identifiers(bad_ids)
        if (parsed.notna() | bad_ids.isna()).all():
            bad = bad.assign(**{id_column: parsed})
    combined = pd.concat([scored, bad]).sort_index().reset_index(drop=True)
    combined["segment"] = combined["segment"].astype("Int64")
    ids = combined[id_column]
    if ids.dtype == object:  # some rejected ID is no integer: the column is text, exactly
        combined[id_column] = ids.map(str, na_action="ignore").astype("str")
    elif ids.dtype.kind in "iu" or str(ids.dtype) == "Int64":
        combined[id_column] = ids.astype("Int64")
    for text in ("segment_name", "reason"):  # None, not NaN: null in JSON answers
        combined[text] = combined[text].astype("object").where(combined[text].notna(), None)
    return combined[[id_column, *OUTPUT_COLUMNS]]
