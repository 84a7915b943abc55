"""The served model's arithmetic as NumPy arrays, read off the fitted objects.

Per request the service must not pay for pandas and scikit-learn's input checks (about
2.5 ms for one customer through a DataFrame, a scaler and ``KMeans.predict``, against a few
microseconds of arithmetic). The fitted ``preprocessor`` is column-separable (a scaler per
numeric column, a lookup per category), so its effect is read once by transforming probe
rows: an offset and a slope per numeric column, one output vector per category code. No
constant is copied by hand and nothing is refitted; tests check that the scores equal the
pipeline's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer

from customer_segmentation.kprototypes import KPrototypes
from customer_segmentation.pipelines.feature_engineering.nodes import categorical_features
from customer_segmentation.schema import RawSchema


@dataclass(frozen=True)
class Scorer:
    """Segments from raw numeric values and category positions (index in the legend).

    Attributes:
        numeric_columns: Raw numeric feature names, in input order.
        categorical_columns: Raw categorical feature names, in input order.
        codes: For each categorical column, its legend codes (position = index).
        base: Output of the probe row (numbers 0, first codes), ``(n_outputs,)``.
        slopes: Output change per unit of each numeric column, ``(n_numeric, n_outputs)``.
        tables: Per categorical column, output change per code, ``(n_codes, n_outputs)``.
        model: ``kmeans`` or ``kprototypes``.
        numeric_outputs: Output columns of the numeric features (K-Prototypes' numbers).
        centres: K-Means centres, or K-Prototypes' numeric prototypes.
        modes: K-Prototypes categorical prototypes (positions); empty for K-Means.
        gamma: K-Prototypes' mismatch weight.
    """

    numeric_columns: list[str]
    categorical_columns: list[str]
    codes: list[list[Any]]
    base: np.ndarray
    slopes: np.ndarray
    tables: list[np.ndarray]
    model: str
    numeric_outputs: list[int]
    centres: np.ndarray
    modes: np.ndarray
    gamma: float

    @cached_property
    def positions(self) -> list[dict[Any, int]]:
        """For each categorical column, code to position in the legend."""
        return [{code: i for i, code in enumerate(codes)} for codes in self.codes]

    def features(self, numeric: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The preprocessor's output (``model_input``'s features) for raw rows."""
        output = self.base + numeric @ self.slopes
        for column, table in enumerate(self.tables):
            output += table[positions[:, column]]
        return output

    def segments(self, features: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The segment of each row (the lowest id on a tie, as scikit-learn and kmodes)."""
        if self.model == "kmeans":
            return _nearest(features, self.centres)
        numbers = features[:, self.numeric_outputs]
        mismatches = (positions[:, None, :] != self.modes[None, :, :]).sum(axis=2)
        return _nearest(numbers, self.centres, self.gamma * mismatches)


def build_scorer(
    preprocessor: ColumnTransformer,
    model: KMeans | KPrototypes,
    features: dict[str, Any],
    raw_schema: dict[str, Any],
) -> Scorer:
    """Read the arithmetic of a fitted preprocessor and model into a ``Scorer``."""
    schema = RawSchema.from_params(raw_schema)
    numeric_columns = list(features.get("numeric") or [])
    categorical_columns = categorical_features(features)
    codes = [list(schema.columns[name].codes) for name in categorical_columns]
    probe = {name: 0.0 for name in numeric_columns} | {
        name: column_codes[0] for name, column_codes in zip(categorical_columns, codes, strict=True)
    }

    def transform(name: str | None = None, values: list[Any] | None = None) -> np.ndarray:
        """The preprocessor's output for the probe row with ``name`` set to each value."""
        rows = pd.DataFrame([probe] * len(values or [None]))
        if name is not None:
            rows[name] = values
        return np.asarray(preprocessor.transform(rows), dtype=np.float64)

    kprototypes = isinstance(model, KPrototypes)
    outputs = list(preprocessor.get_feature_names_out())
    base = transform()[0]
    slopes = np.array([transform(name, [1.0])[0] - base for name in numeric_columns])
    tables = [
        transform(name, column_codes) - base
        for name, column_codes in zip(categorical_columns, codes, strict=True)
    ]
    return Scorer(
        numeric_columns=numeric_columns,
        categorical_columns=categorical_columns,
        codes=codes,
        base=base,
        slopes=slopes.reshape(len(numeric_columns), len(base)),
        tables=tables,
        model="kprototypes" if kprototypes else "kmeans",
        numeric_outputs=[outputs.index(name) for name in numeric_columns],
        centres=model.numeric_centroids_ if kprototypes else model.cluster_centers_,
        modes=model.categorical_centroids_ if kprototypes else np.empty((0, 0), dtype=int),
        gamma=model.gamma_ if kprototypes else 0.0,
    )


def _nearest(
    points: np.ndarray, centres: np.ndarray, extra: np.ndarray | float = 0.0
) -> np.ndarray:
    """Index of the nearest centre by squared Euclidean distance (plus ``extra``).

    Summed feature by feature, then ``extra``, in the order kmodes sums.
    """
    distances = np.zeros((len(points), len(centres)))
    for feature in range(points.shape[1]):
        difference = points[:, feature, None] - centres[None, :, feature]
        distances += difference * difference
    return (distances + extra).argmin(axis=1)
