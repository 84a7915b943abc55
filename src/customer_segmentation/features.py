"""The feature specification from ``conf/`` and its fitted transformation, as NumPy arrays.

``FeatureSpec`` is parsed once from ``raw_schema`` + ``features``: which raw columns are
features, of which kind, with which element-wise transform and which legend codes.
``FittedFeatures`` is what fitting it to the primary customers learns: a centre and a scale
per numeric and ordinal feature, and a lookup table per categorical feature.

Every path that turns raw rows into model features (the pipelines' ``model_input``, batch
scoring, the MLflow model and the API) calls the same ``FittedFeatures.transform`` on arrays:
first each numeric column's element-wise transform, then ``(value - centre) / scale``, then
one table lookup per categorical column. The paths agree by construction; nothing is read
back from a fitted object by probing. A transform not in ``TRANSFORMS`` is refused when the
specification is parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.schema import CATEGORICAL_KINDS, RawSchema


@dataclass(frozen=True)
class Transform:
    """An element-wise transform of a numeric feature, applied before scaling.

    Attributes:
        function: The NumPy ufunc applied to the raw values.
        lowest: Values must be greater than this (``None``: any number).
    """

    function: Callable[[np.ndarray], np.ndarray] | None
    lowest: float | None = None

    def outside_domain(self, values: np.ndarray) -> np.ndarray:
        """Mask of the values the transform is not defined for."""
        if self.lowest is None:
            return np.zeros(len(values), dtype=bool)
        return ~(values > self.lowest)


TRANSFORMS = {
    "none": Transform(None),
    "log1p": Transform(np.log1p, lowest=-1.0),  # log(1 + x): for skewed amounts >= 0
}
SCALERS = ("standard", "minmax", "robust")


@dataclass(frozen=True)
class FeatureSpec:
    """Which raw columns become features, and how; parsed once from ``conf/``.

    Attributes:
        schema: The raw schema (columns, types, codes, ranges).
        numeric: Numeric feature columns, in output order.
        transforms: The element-wise transform of each numeric feature (``TRANSFORMS`` key).
        ordinal: Categorical columns encoded by legend position, then scaled.
        nominal: Categorical columns one-hot encoded, one output per legend code.
        scaler: ``standard``, ``minmax`` or ``robust``.
    """

    schema: RawSchema
    numeric: tuple[str, ...]
    transforms: tuple[str, ...]
    ordinal: tuple[str, ...]
    nominal: tuple[str, ...]
    scaler: str = "standard"

    @classmethod
    def from_params(cls, raw_schema: Mapping[str, Any], features: Mapping[str, Any]) -> FeatureSpec:
        """Parse ``features`` against ``raw_schema``; a wrong entry raises ``ValueError``.

        A numeric entry is a column name, or ``{column: NAME, transform: log1p}``.
        """
        schema = RawSchema.from_params(raw_schema)
        numeric, transforms = [], []
        for entry in features.get("numeric") or []:
            name, transform = (
                (entry["column"], entry.get("transform", "none"))
                if isinstance(entry, Mapping)
                else (entry, "none")
            )
            if transform not in TRANSFORMS:
                raise ValueError(
                    f"features.numeric: {name!r} has transform {transform!r}; "
                    f"supported: {', '.join(TRANSFORMS)}"
                )
            numeric.append(name)
            transforms.append(transform)
        spec = cls(
            schema=schema,
            numeric=tuple(numeric),
            transforms=tuple(transforms),
            ordinal=tuple(features.get("ordinal") or []),
            nominal=tuple(features.get("nominal") or []),
            scaler=features.get("scaler", "standard"),
        )
        spec._check()
        return spec

    @property
    def id_column(self) -> str:
        """The identifier column, kept beside the features."""
        return self.schema.id_column

    @property
    def categorical(self) -> tuple[str, ...]:
        """The features K-Prototypes treats as categories: the ordinal then the nominal ones."""
        return (*self.ordinal, *self.nominal)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every raw feature column: the numeric ones, then the categorical ones."""
        return (*self.numeric, *self.categorical)

    def codes(self, name: str) -> tuple[Any, ...]:
        """A categorical feature's legend codes; a code's position is its index here."""
        return tuple(self.schema.columns[name].codes)

    @property
    def output_columns(self) -> tuple[str, ...]:
        """Names of the model features, in order: numeric, ordinal, then one per nominal code."""
        one_hot = (f"{name}_{code}" for name in self.nominal for code in self.codes(name))
        return (*self.numeric, *self.ordinal, *one_hot)

    def domain_problems(self, numeric: np.ndarray) -> list[tuple[int, str, str]]:
        """Values outside their feature transform's domain, as (row, column, message).

        Args:
            numeric: Raw numeric feature values, ``(n_rows, len(numeric))``.
        """
        problems = []
        for column, name in enumerate(self.numeric):
            transform_name = self.transforms[column]
            transform, values = TRANSFORMS[transform_name], numeric[:, column]
            if transform.lowest is None:  # defined everywhere: nothing to check
                continue
            for row in np.flatnonzero(transform.outside_domain(values) & ~np.isnan(values)):
                message = (f"{name}: {values[row]:g} is outside the domain of {transform_name} "
                           f"(values above {transform.lowest:g})")  # fmt: skip
                problems.append((int(row), name, message))
        return sorted(problems)

    def domain_reasons(self, frame: pd.DataFrame) -> pd.Series:
        """A reason for each row whose numeric value is outside its transform's domain.

        Args:
            frame: Typed rows (``schema.check_rows``' ``typed``).

        Returns:
            Reasons by index label, only for the failing rows.
        """
        numeric = frame[list(self.numeric)].to_numpy(dtype=np.float64)
        reasons: dict[Any, list[str]] = {}
        for row, _, message in self.domain_problems(numeric):
            reasons.setdefault(frame.index[row], []).append(message)
        return pd.Series({row: "; ".join(found) for row, found in reasons.items()},
                         dtype="object")  # fmt: skip

    def _check(self) -> None:
        groups = {"numeric": self.numeric, "ordinal": self.ordinal, "nominal": self.nominal}
        expected = {"numeric": ("numeric",), "ordinal": CATEGORICAL_KINDS,
                    "nominal": CATEGORICAL_KINDS}  # fmt: skip
        for group, names in groups.items():
            for name in names:
                spec = self.schema.columns.get(name)
                if spec is None:
                    raise ValueError(f"features.{group} lists {name!r}, which raw_schema lacks")
                if spec.kind not in expected[group]:
                    raise ValueError(
                        f"features.{group} lists {name!r}, a {spec.kind} column; "
                        f"{group} features must be {' or '.join(expected[group])}"
                    )
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("features: a column is listed more than once")
        if not self.columns:
            raise ValueError("features: no feature column is listed")
        if self.scaler not in SCALERS:
            raise ValueError(f"features.scaler must be one of {', '.join(SCALERS)}")


@dataclass(frozen=True)
class FittedFeatures:
    """The feature transformation fitted to the training customers.

    Attributes:
        spec: The feature specification it was fitted for.
        centres: Per numeric feature (after its transform), the value that maps to 0.
        scales: Per numeric feature, the spread that maps to 1.
        tables: Per categorical feature, its output block for each legend position,
            ``(n_codes, width)``: one scaled column for an ordinal, one-hot for a nominal.
    """

    spec: FeatureSpec
    centres: np.ndarray
    scales: np.ndarray
    tables: tuple[np.ndarray, ...]

    def arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Raw numeric values and legend positions of typed, valid rows."""
        numeric = frame[list(self.spec.numeric)].to_numpy(dtype=np.float64)
        positions = np.column_stack([
            pd.Categorical(frame[name], categories=self.spec.codes(name)).codes.astype(np.int64)
            for name in self.spec.categorical
        ]) if self.spec.categorical else np.empty((len(frame), 0), dtype=np.int64)  # fmt: skip
        return numeric.reshape(len(frame), len(self.spec.numeric)), positions

    def scaled_numeric(self, numeric: np.ndarray) -> np.ndarray:
        """The numeric features: each column's transform, then centred and scaled."""
        return (_transformed(numeric, self.spec.transforms) - self.centres) / self.scales

    def transform(self, numeric: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The model features of raw rows, ``(n_rows, len(spec.output_columns))``."""
        blocks = [self.scaled_numeric(numeric)]
        blocks += [table[positions[:, i]] for i, table in enumerate(self.tables)]
        return np.hstack(blocks) if len(blocks) > 1 else blocks[0]

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``model_input``: the identifier, then the model features, one row per customer."""
        features = self.transform(*self.arrays(frame))
        output = pd.DataFrame(features, columns=list(self.spec.output_columns))
        output.insert(0, self.spec.id_column, frame[self.spec.id_column].to_numpy())
        return output

    def mixed_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """K-Prototypes' input: the identifier, scaled numeric features, categorical positions."""
        numeric, positions = self.arrays(frame)
        output = pd.DataFrame(self.scaled_numeric(numeric), columns=list(self.spec.numeric))
        for i, name in enumerate(self.spec.categorical):
            output[name] = positions[:, i]
        output.insert(0, self.spec.id_column, frame[self.spec.id_column].to_numpy())
        return output


def fit_features(customers: pd.DataFrame, spec: FeatureSpec) -> FittedFeatures:
    """Fit the transformation to valid customers: centres, scales and lookup tables.

    The scaler's centre and scale are, per column: ``standard`` the mean and the standard
    deviation; ``minmax`` the minimum and the range; ``robust`` the median and the
    interquartile range. A zero scale becomes 1 (a constant column maps to 0), as in
    scikit-learn's scalers.
    """
    numeric = _transformed(
        customers[list(spec.numeric)].to_numpy(dtype=np.float64), spec.transforms
    )
    centres, scales = _centre_and_scale(numeric, spec.scaler)
    tables = []
    for name in spec.ordinal:
        positions = pd.Categorical(customers[name], categories=spec.codes(name)).codes
        (centre,), (scale,) = _centre_and_scale(positions[:, None].astype(np.float64), spec.scaler)
        tables.append(((np.arange(len(spec.codes(name))) - centre) / scale)[:, None])
    tables += [np.eye(len(spec.codes(name))) for name in spec.nominal]
    return FittedFeatures(spec, centres, scales, tuple(tables))


def _transformed(numeric: np.ndarray, transforms: tuple[str, ...]) -> np.ndarray:
    functions = [TRANSFORMS[name].function for name in transforms]
    if not any(functions):
        return numeric
    numeric = numeric.copy()
    for column, function in enumerate(functions):
        if function is not None:
            numeric[:, column] = function(numeric[:, column])
    return numeric


def _centre_and_scale(values: np.ndarray, scaler: str) -> tuple[np.ndarray, np.ndarray]:
    if scaler == "standard":
        centre, scale = values.mean(axis=0), values.std(axis=0)
    elif scaler == "minmax":
        centre, scale = values.min(axis=0), np.ptp(values, axis=0)
    else:
        low, centre, high = np.percentile(values, [25, 50, 75], axis=0)
        scale = high - low
    return centre, np.where(scale == 0, 1.0, scale)
