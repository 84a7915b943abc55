"""The feature specification from ``conf/`` and its fitted transformation, as NumPy arrays.

``FeatureSpec`` is parsed once from ``raw_schema`` + ``features``: which raw columns are
features, of which kind, with which element-wise transform and which legend codes.
``FittedFeatures`` is what fitting it to the primary customers learns: a centre and a scale
per numeric feature and per ordinal feature (scaled as its legend position); a binary
feature is its position, 0 or 1, never scaled (centre 0, scale 1).

Every path that turns raw rows into model features (the pipelines' ``model_input``, batch
scoring, the MLflow model and the API) calls the same ``FittedFeatures.transform`` on arrays:
first each numeric column's element-wise transform, then ``(value - centre) / scale`` for the
numeric, ordinal and binary columns together, then one lookup of every nominal column's
one-hot row.
The paths agree by construction; nothing is read back from a fitted object by probing. A
transform not in ``TRANSFORMS`` is refused when the specification is parsed.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.schema import CATEGORICAL_KINDS, RawSchema

logger = logging.getLogger(__name__)


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


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """``sign(x) * log(1 + |x|)``: log1p's shape on both sides of 0 (balances, changes)."""
    return np.copysign(np.log1p(np.abs(values)), values)


TRANSFORMS = {
    "none": Transform(None),
    "log1p": Transform(np.log1p, lowest=-1.0),  # log(1 + x): for skewed amounts >= 0
    "signed_log1p": Transform(signed_log1p),  # for skewed amounts of either sign
    "asinh": Transform(np.arcsinh),  # like signed_log1p, near-linear around 0
}
SCALERS = ("standard", "minmax", "robust")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, and 0 where the denominator is 0 (spend per visit of a
    customer without visits)."""
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


# Operation: (function of the operand arrays, fewest operands, most operands or None).
OPERATIONS: dict[str, tuple[Callable[..., np.ndarray], int, int | None]] = {
    "sum": (lambda *columns: functools.reduce(np.add, columns), 2, None),
    "difference": (np.subtract, 2, 2),
    "product": (lambda *columns: functools.reduce(np.multiply, columns), 2, None),
    "ratio": (_ratio, 2, 2),
    # From a date column: days (tenure) or years (age) up to as_of. From a number column,
    # years_since is as_of's year minus the number: age from a birth year.
    "days_since": (None, 1, 1),
    "years_since": (None, 1, 1),
}
DAYS_PER_YEAR = 365.2425
DAY = np.timedelta64(1, "D")


def days(dates: Any) -> np.ndarray:
    """Dates as days since 1970-01-01, as float64 (``NaN`` for a missing date)."""
    dates = np.asarray(dates, dtype="datetime64[us]")
    return np.where(np.isnat(dates), np.nan, (dates - np.datetime64(0, "us")) / DAY)


@dataclass(frozen=True)
class Derivation:
    """A numeric feature computed from others, declared in ``features.derived``.

    Attributes:
        name: The feature's name.
        operation: A key of ``OPERATIONS``.
        operands: The raw numeric columns or earlier derived features it is computed from.
        label: What people call it, or ``None``.
    """

    name: str
    operation: str
    operands: tuple[str, ...]
    label: str | None = None

    @classmethod
    def from_params(cls, name: str, params: Mapping[str, Any]) -> Derivation:
        """Parse ``{<operation>: [operands], label: ...}``; anything else raises ``ValueError``."""
        operations = [key for key in params if key != "label"]
        if len(operations) != 1 or operations[0] not in OPERATIONS:
            raise ValueError(
                f"features.derived.{name}: write one operation of {', '.join(OPERATIONS)} "
                f"with its columns, such as {{sum: [a, b]}}; got {dict(params)!r}"
            )
        operation = operations[0]
        operands = params[operation]
        operands = [operands] if isinstance(operands, str) else list(operands or [])
        _, fewest, most = OPERATIONS[operation]
        if len(operands) < fewest or (most is not None and len(operands) > most):
            count = f"{fewest}" if most == fewest else f"at least {fewest}"
            raise ValueError(
                f"features.derived.{name}: {operation} takes {count} column(s), got {operands}"
            )
        return cls(name, operation, tuple(map(str, operands)), params.get("label"))


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
        binary: Two-code columns encoded as their legend position, 0 or 1, never scaled.
        clips: Per numeric feature, the training quantiles ``(low, high)`` its raw values are
            clipped to before the transform, or ``None``.
        derived: Numeric features computed from raw columns (``features.derived``), in order.
        min_shares: Per nominal feature, the training share under which a code is grouped
            as ``other`` (0: none is).
        open_codes: Nominal features whose codes outside the legend score as ``other``
            (``unknown_code: other``) instead of rejecting the row.
        as_of: ``features.as_of`` in days since 1970-01-01 (``days``), or ``None``: then
            fitting takes the newest date of the training data's date inputs.
    """

    schema: RawSchema
    numeric: tuple[str, ...]
    transforms: tuple[str, ...]
    ordinal: tuple[str, ...]
    nominal: tuple[str, ...]
    scaler: str = "standard"
    binary: tuple[str, ...] = ()
    clips: tuple[tuple[float, float] | None, ...] = ()
    derived: tuple[Derivation, ...] = ()
    as_of: float | None = None
    min_shares: tuple[float, ...] = ()
    open_codes: frozenset[str] = frozenset()

    @classmethod
    def from_params(cls, raw_schema: Mapping[str, Any], features: Mapping[str, Any]) -> FeatureSpec:
        """Parse ``features`` against ``raw_schema``; a wrong entry raises ``ValueError``.

        A numeric entry is a column name, or ``{column: NAME, transform: log1p, clip: [0.01,
        0.99]}`` (both keys optional; ``clip`` gives the training quantiles to clip at).
        """
        schema = RawSchema.from_params(raw_schema)
        numeric, transforms, clips = [], [], []
        for entry in features.get("numeric") or []:
            entry = entry if isinstance(entry, Mapping) else {"column": entry}
            name, transform = entry["column"], entry.get("transform", "none")
            if transform not in TRANSFORMS:
                raise ValueError(
                    f"features.numeric: {name!r} has transform {transform!r}; "
                    f"supported: {', '.join(TRANSFORMS)}"
                )
            numeric.append(name)
            transforms.append(transform)
            clips.append(_clip_quantiles(name, entry.get("clip")))
        nominal = [entry if isinstance(entry, Mapping) else {"column": entry}
                   for entry in features.get("nominal") or []]  # fmt: skip
        min_shares = tuple(_min_share(entry) for entry in nominal)
        spec = cls(
            schema=schema,
            numeric=tuple(numeric),
            transforms=tuple(transforms),
            ordinal=tuple(features.get("ordinal") or []),
            nominal=tuple(entry["column"] for entry in nominal),
            scaler=features.get("scaler", "standard"),
            binary=tuple(features.get("binary") or []),
            clips=tuple(clips) if any(clips) else (),
            derived=tuple(Derivation.from_params(str(name), params or {})
                          for name, params in (features.get("derived") or {}).items()),
            as_of=_as_of(features.get("as_of")),
            min_shares=min_shares if any(min_shares) else (),
            open_codes=frozenset(entry["column"] for entry in nominal
                                 if _unknown_code(entry) == "other"),
        )  # fmt: skip
        spec._check()
        return spec

    @property
    def id_column(self) -> str:
        """The identifier column, kept beside the features."""
        return self.schema.id_column

    @property
    def categorical(self) -> tuple[str, ...]:
        """The features K-Prototypes treats as categories: ordinal, binary, then nominal."""
        return (*self.ordinal, *self.binary, *self.nominal)

    @functools.cached_property
    def positional(self) -> tuple[str, ...]:
        """The categorical features that enter the model as their legend position: the
        ordinal ones (then scaled) and the binary ones (0 or 1)."""
        return (*self.ordinal, *self.binary)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every raw column the features are made from: numeric inputs, then categorical."""
        return (*self.inputs, *self.categorical)

    @functools.cached_property
    def inputs(self) -> tuple[str, ...]:
        """The raw numeric and date columns read: the numeric features' own, or their
        operands'."""
        by_name = {derivation.name: derivation for derivation in self.derived}

        def raw(name: str) -> list[str]:
            if name not in by_name:
                return [name]
            return [column for operand in by_name[name].operands for column in raw(operand)]

        return tuple(dict.fromkeys(column for name in self.numeric for column in raw(name)))

    @functools.cached_property
    def dates(self) -> frozenset[str]:
        """The date columns among the inputs."""
        return frozenset(name for name in self.inputs if self.schema.columns[name].kind == "date")

    def input_values(self, frame: pd.DataFrame) -> np.ndarray:
        """The ``inputs`` columns of typed rows as float64, dates as days (``days``)."""
        if not self.dates:
            return frame[list(self.inputs)].to_numpy(dtype=np.float64)
        return np.column_stack([
            days(frame[name]) if name in self.dates else frame[name].to_numpy(dtype=np.float64)
            for name in self.inputs
        ]).reshape(len(frame), len(self.inputs))  # fmt: skip

    def derive(self, inputs: np.ndarray, as_of: float | None = None) -> np.ndarray:
        """The numeric features from the raw ``inputs`` columns, ``(n_rows, len(numeric))``.

        Without derived features the inputs are the features, returned as they are.

        Args:
            inputs: ``input_values`` of the rows.
            as_of: The day ``days_since`` and ``years_since`` count up to (``days``).
        """
        if not self.derived:
            return inputs
        values = {name: inputs[:, i] for i, name in enumerate(self.inputs)}
        for derivation in self.derived:
            operands = [values[operand] for operand in derivation.operands]
            if derivation.operation in ("days_since", "years_since"):
                values[derivation.name] = self._since(derivation, operands[0], as_of)
            else:
                values[derivation.name] = OPERATIONS[derivation.operation][0](*operands)
        return np.column_stack([values[name] for name in self.numeric]).reshape(
            len(inputs), len(self.numeric)
        )  # fmt: skip

    def _since(self, derivation: Derivation, values: np.ndarray, as_of: float | None) -> np.ndarray:
        if as_of is None:
            raise ValueError(f"features.derived.{derivation.name}: no as_of date to count to")
        if derivation.operands[0] not in self.dates:  # a year: as_of's year minus it
            return pd.Timestamp(as_of, unit="D").year - values
        elapsed = as_of - values
        return elapsed if derivation.operation == "days_since" else elapsed / DAYS_PER_YEAR

    def with_derived(self, frame: pd.DataFrame, as_of: float | None = None) -> pd.DataFrame:
        """``frame`` with a column for each derived numeric feature (for profiles)."""
        if not self.derived:
            return frame
        numeric = self.derive(self.input_values(frame), as_of)
        derived = {derivation.name for derivation in self.derived}
        return frame.assign(**{name: numeric[:, i] for i, name in enumerate(self.numeric)
                               if name in derived})  # fmt: skip

    def title(self, name: str) -> str:
        """What people call a feature: its label, else its name."""
        for derivation in self.derived:
            if derivation.name == name:
                return derivation.label or name
        return self.schema.columns[name].title

    def sentinels(self, name: str) -> dict[float, str]:
        """A numeric feature's sentinel values and their labels (none for a derived one)."""
        column = self.schema.columns.get(name)
        return column.sentinels if column is not None else {}

    @functools.cached_property
    def flags(self) -> tuple[tuple[int, float, str], ...]:
        """One 0/1 feature per sentinel value of a numeric feature: (the feature's index in
        ``numeric``, the value, the output column's name)."""
        return tuple(
            (i, value, f"{name}_{value:g}")
            for i, name in enumerate(self.numeric) for value in self.sentinels(name)
        )  # fmt: skip

    def has_other(self, name: str) -> bool:
        """Whether a nominal feature has an ``other`` code: rare or unknown codes."""
        index = self.nominal.index(name)
        return name in self.open_codes or bool(self.min_shares and self.min_shares[index])

    def codes(self, name: str) -> tuple[Any, ...]:
        """A categorical feature's legend codes; a code's position is its index here."""
        return tuple(self.schema.columns[name].codes)

    @property
    def output_columns(self) -> tuple[str, ...]:
        """Names of the model features, in order: numeric, ordinal, binary, one per nominal
        code, then one per sentinel value."""
        one_hot = (f"{name}_{code}" for name in self.nominal
                   for code in (*self.codes(name), *(["other"] if self.has_other(name) else [])))
        return (*self.numeric, *self.positional, *one_hot, *(flag for *_, flag in self.flags))

    @functools.cached_property
    def output_titles(self) -> dict[str, str]:
        """What people call each output column: a feature's title, a one-hot column's
        ``<title>: <code label>``."""
        titles = {name: self.title(name) for name in (*self.numeric, *self.positional)}
        for name in self.nominal:
            for code, label in self.schema.columns[name].codes.items():
                titles[f"{name}_{code}"] = f"{self.title(name)}: {label}"
            titles[f"{name}_other"] = f"{self.title(name)}: other"
        for i, value, flag in self.flags:
            name = self.numeric[i]
            titles[flag] = f"{self.title(name)}: {self.sentinels(name)[value]}"
        return titles

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
            outside = transform.outside_domain(values) & ~np.isnan(values)
            outside &= ~np.isin(values, list(self.sentinels(name)))
            for row in np.flatnonzero(outside):
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
        derived = {derivation.name for derivation in self.derived}
        numeric = np.column_stack([  # a derived feature's transform is defined everywhere
            np.full(len(frame), np.nan) if name in derived else frame[name].to_numpy(np.float64)
            for name in self.numeric
        ]).reshape(len(frame), len(self.numeric))  # fmt: skip
        reasons: dict[Any, list[str]] = {}
        for row, _, message in self.domain_problems(numeric):
            reasons.setdefault(frame.index[row], []).append(message)
        return pd.Series({row: "; ".join(found) for row, found in reasons.items()},
                         dtype="object")  # fmt: skip

    def _check(self) -> None:
        _check_derived_of(self)
        derived = {derivation.name for derivation in self.derived}
        raw_numeric = tuple(name for name in self.numeric if name not in derived)
        groups = {"numeric": raw_numeric, "ordinal": self.ordinal, "binary": self.binary,
                  "nominal": self.nominal}  # fmt: skip
        expected = {"numeric": ("numeric",), "ordinal": CATEGORICAL_KINDS,
                    "binary": CATEGORICAL_KINDS, "nominal": CATEGORICAL_KINDS}  # fmt: skip
        for group, names in groups.items():
            for name in names:
                spec = self.schema.columns.get(name)
                if spec is None:
                    raise ValueError(f"features.{group} lists {name!r}, which raw_schema lacks")
                if spec.kind not in expected[group]:
                    hint = (" (a date becomes a number in features.derived, with days_since "
                            "or years_since)" if spec.kind == "date" else "")  # fmt: skip
                    raise ValueError(
                        f"features.{group} lists {name!r}, a {spec.kind} column; "
                        f"{group} features must be {' or '.join(expected[group])}{hint}"
                    )
        for name in self.binary:
            if len(self.codes(name)) != 2:
                raise ValueError(
                    f"features.binary lists {name!r}, which has {len(self.codes(name))} codes; "
                    "a binary feature has exactly two (list it as ordinal or nominal)"
                )
        if len(set(self.numeric + self.categorical)) != len(self.numeric + self.categorical):
            raise ValueError("features: a column is listed more than once")
        if not self.numeric + self.categorical:
            raise ValueError("features: no feature column is listed")
        if self.scaler not in SCALERS:
            raise ValueError(f"features.scaler must be one of {', '.join(SCALERS)}")


def _check_derived_of(spec: FeatureSpec) -> None:
    dates = {name for name, column in spec.schema.columns.items() if column.kind == "date"}
    known = {name for name, column in spec.schema.columns.items() if column.kind == "numeric"}
    for derivation in spec.derived:
        if derivation.name in spec.schema.columns or derivation.name in known:
            raise ValueError(f"features.derived.{derivation.name}: the name is taken by a "
                             "raw column or an earlier derived feature")  # fmt: skip
        since = derivation.operation in ("days_since", "years_since")
        for operand in derivation.operands:
            if operand in dates and not since:
                raise ValueError(
                    f"features.derived.{derivation.name}: {operand!r} is a date; a date "
                    "becomes a number with days_since or years_since"
                )
            if operand not in known | dates:
                raise ValueError(
                    f"features.derived.{derivation.name}: {operand!r} is no numeric or date "
                    "raw column nor an earlier derived feature"
                )
            if spec.sentinels(operand):
                raise ValueError(
                    f"features.derived.{derivation.name}: {operand!r} has sentinel values, "
                    "which are no amounts to compute with"
                )
        if derivation.operation == "days_since" and derivation.operands[0] not in dates:
            raise ValueError(
                f"features.derived.{derivation.name}: days_since counts the days since a date "
                f"column; {derivation.operands[0]!r} is none"
            )
        if since and spec.as_of is None and not dates & set(spec.inputs):
            raise ValueError(
                f"features.derived.{derivation.name}: {derivation.operation} counts up to "
                "features.as_of, which defaults to the newest date of the date columns used; "
                "there is none, so set it to a date, such as 2024-12-31"
            )
        if derivation.name in spec.numeric:
            transform = spec.transforms[spec.numeric.index(derivation.name)]
            if TRANSFORMS[transform].lowest is not None:
                raise ValueError(
                    f"features.numeric: {derivation.name!r} is derived, and a derived value "
                    f"can fall outside the domain of {transform}: use signed_log1p or asinh"
                )
        known.add(derivation.name)


def _as_of(as_of: Any) -> float | None:
    """``features.as_of`` (a date or its text) in days since 1970-01-01, or ``None``."""
    if as_of is None:
        return None
    try:
        return float(days([pd.Timestamp(str(as_of)).to_datetime64()])[0])
    except ValueError as error:
        raise ValueError(f"features.as_of must be a date, such as 2024-12-31: {error}") from None


@dataclass(frozen=True)
class FittedFeatures:
    """The feature transformation fitted to the training customers.

    Attributes:
        spec: The feature specification it was fitted for.
        centres: Per numeric feature (after its transform), then per ordinal and binary
            feature (its legend position), the value that maps to 0 (0 for a binary one).
        scales: Likewise, the spread that maps to 1 (1 for a binary one).
        clip_bounds: Raw values each numeric feature is clipped to, ``(2, n_numeric)`` (lows,
            then highs; infinite where it is not clipped), or ``None`` when none is.
        as_of: The day dates are counted up to (``days``): ``features.as_of``, else the
            newest date of the training data's date inputs; ``None`` without dates.
    """

    spec: FeatureSpec
    centres: np.ndarray
    scales: np.ndarray
    clip_bounds: np.ndarray | None = None
    as_of: float | None = None
    rare_codes: tuple[tuple[int, ...], ...] = ()

    def grouped(self, positions: np.ndarray) -> np.ndarray:
        """Legend positions with every rare or unknown code (-1) of a nominal feature that
        has ``other`` as that feature's ``other`` position, its number of codes."""
        if not self._other_lookups:
            return positions
        positions = positions.copy()
        for column, lookup in self._other_lookups:
            positions[:, column] = lookup[positions[:, column]]  # -1 takes the last: other
        return positions

    @functools.cached_property
    def _other_lookups(self) -> tuple[tuple[int, np.ndarray], ...]:
        """(categorical column, position → grouped position) of each nominal feature with
        ``other``."""
        lookups = []
        for i, name in enumerate(self.spec.nominal):
            if self.spec.has_other(name):
                count = len(self.spec.codes(name))
                lookup = np.arange(count + 1)
                lookup[list(self.rare_codes[i]) if self.rare_codes else []] = count
                lookups.append((len(self.spec.positional) + i, lookup))
        return tuple(lookups)

    def derive(self, inputs: np.ndarray) -> np.ndarray:
        """The numeric features of ``input_values``, dates counted up to ``as_of``."""
        return self.spec.derive(inputs, self.as_of)

    def arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Raw numeric values and legend positions of typed, valid rows."""
        numeric = self.derive(self.spec.input_values(frame))
        positions = np.column_stack([
            legend_positions(frame[name], self.spec.codes(name))
            for name in self.spec.categorical
        ]) if self.spec.categorical else np.empty((len(frame), 0), dtype=np.int64)  # fmt: skip
        return numeric.reshape(len(frame), len(self.spec.numeric)), positions

    def scaled_numeric(self, numeric: np.ndarray) -> np.ndarray:
        """The numeric features: each column's transform, then centred and scaled; then the
        sentinel flags (K-Prototypes' numeric part)."""
        centres, scales = self._numeric_centres_and_scales
        scaled = self._prepared(numeric) - centres
        scaled = np.divide(scaled, scales, out=scaled)
        if not self.spec.flags:
            return scaled
        return np.concatenate((np.nan_to_num(scaled, copy=False), self._flags(numeric)), axis=1)

    def transform(self, numeric: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The model features of raw rows, ``(n_rows, len(spec.output_columns))``.

        Numeric values after their transform and ordinal and binary positions are centred and
        scaled together; each nominal position becomes its one-hot row (a rare or unknown
        code: its ``other`` column).
        """
        if self._other_lookups:
            positions = self.grouped(positions)
        prepared = numeric if self._as_they_are else self._prepared(numeric)
        if self.spec.positional:
            positional = (positions if not self.spec.nominal
                          else positions[:, : len(self.spec.positional)])  # fmt: skip
            scaled = np.concatenate((prepared, positional), axis=1)
            scaled -= self.centres
        else:
            scaled = prepared - self.centres
        scaled /= self.scales
        if not self.spec.nominal and not self.spec.flags:
            return scaled
        parts = [scaled]
        if self.spec.nominal:
            one_hot, owner, first_row, columns = self._one_hot
            parts.append(one_hot[positions.take(owner, axis=1) + first_row, columns])
        if self.spec.flags:  # a sentinel is no amount: the centre, and its flag set
            np.nan_to_num(scaled, copy=False)
            parts.append(self._flags(numeric))
        return np.concatenate(parts, axis=1)

    def _flags(self, numeric: np.ndarray) -> np.ndarray:
        """Each sentinel's 0/1 column: whether the raw value is that sentinel."""
        return np.column_stack(
            [numeric[:, i] == value for i, value, _ in self.spec.flags]
        ).astype(np.float64)  # fmt: skip

    def _prepared(self, numeric: np.ndarray) -> np.ndarray:
        """Raw numeric values clipped to their training bounds, then transformed; a sentinel
        value is NaN (no amount)."""
        if self._as_they_are:
            return numeric
        if self.spec.flags:
            numeric = _without_sentinels(numeric, self.spec)
        if self.clip_bounds is not None:
            numeric = np.clip(numeric, self.clip_bounds[0], self.clip_bounds[1])
        return _transformed(numeric, self.spec.transforms)

    @functools.cached_property
    def _as_they_are(self) -> bool:
        """Whether raw numeric values enter scaling unchanged: no sentinel, clip or transform
        (the common case, and a request's fast path)."""
        return (not self.spec.flags and self.clip_bounds is None
                and not _columns_by_transform(self.spec.transforms))  # fmt: skip

    @functools.cached_property
    def _numeric_centres_and_scales(self) -> tuple[np.ndarray, np.ndarray]:
        numeric = len(self.spec.numeric)
        return self.centres[:numeric], self.scales[:numeric]

    @functools.cached_property
    def _one_hot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every nominal feature's one-hot rows in one block-diagonal table, and its index.

        Output column ``j`` of the one-hot part is ``table[positions[:, owner[j]] +
        first_row[j], j]``: one NumPy lookup for every nominal feature at once.
        """
        codes = [len(self.spec.codes(name)) + self.spec.has_other(name)
                 for name in self.spec.nominal]  # fmt: skip
        table = np.eye(sum(codes))
        owner = len(self.spec.positional) + np.repeat(np.arange(len(codes)), codes)
        first_row = np.repeat(np.cumsum([0, *codes[:-1]]), codes)
        return table, owner, first_row, np.arange(sum(codes))

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``model_input``: the identifier, then the model features, one row per customer."""
        features = self.transform(*self.arrays(frame))
        output = pd.DataFrame(features, columns=list(self.spec.output_columns))
        output.insert(0, self.spec.id_column, frame[self.spec.id_column].to_numpy())
        return output

    def mixed_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """K-Prototypes' input: the identifier, scaled numeric features and sentinel flags,
        categorical positions."""
        numeric, positions = self.arrays(frame)
        positions = self.grouped(positions)
        names = [*self.spec.numeric, *(flag for *_, flag in self.spec.flags)]
        output = pd.DataFrame(self.scaled_numeric(numeric), columns=names)
        for i, name in enumerate(self.spec.categorical):
            output[name] = positions[:, i]
        output.insert(0, self.spec.id_column, frame[self.spec.id_column].to_numpy())
        return output


def fit_features(customers: pd.DataFrame, spec: FeatureSpec) -> FittedFeatures:
    """Fit the transformation to valid customers: a centre and a scale per scaled column.

    The scaler's centre and scale are, per column: ``standard`` the mean and the standard
    deviation; ``minmax`` the minimum and the range; ``robust`` the median and the
    interquartile range. A zero scale becomes 1 (a constant column maps to 0), as in
    scikit-learn's scalers. Ordinal columns are scaled as their legend positions; binary
    columns keep theirs, 0 and 1 (centre 0, scale 1). A numeric column with ``clip`` is
    clipped to its training quantiles first (``numpy.quantile``, linear), and so is every row
    scored later.
    """
    as_of = spec.as_of
    if as_of is None and spec.dates:
        inputs = spec.input_values(customers)
        as_of = float(np.nanmax(inputs[:, [spec.inputs.index(name) for name in spec.dates]]))
    if as_of is not None and spec.as_of is None:
        logger.info("Counting dates up to the newest date in the data, %s (features.as_of)",
                    np.datetime64(int(as_of), "D"))  # fmt: skip
    raw = fit_raw_numeric(customers, spec, as_of)
    bounds = _clip_bounds(raw, spec.clips) if spec.clips else None
    centres, scales = _centre_and_scale(fit_values(customers, spec, raw, bounds), spec.scaler)
    binary = len(spec.binary)
    counts = [np.bincount(_known(legend_positions(customers[name], spec.codes(name))),
                          minlength=len(spec.codes(name))) for name in spec.nominal]  # fmt: skip
    return FittedFeatures(spec, np.append(centres, np.zeros(binary)),
                          np.append(scales, np.ones(binary)), bounds, as_of,
                          rare_codes(spec, counts, len(customers)))  # fmt: skip


def fit_raw_numeric(customers: pd.DataFrame, spec: FeatureSpec, as_of: float | None) -> np.ndarray:
    """The numeric features of valid customers before clipping and transforms, a sentinel
    value as NaN: what ``clip`` quantiles are taken of."""
    raw = spec.derive(spec.input_values(customers), as_of)
    return _without_sentinels(raw, spec) if spec.flags else raw


def fit_values(customers: pd.DataFrame, spec: FeatureSpec, raw: np.ndarray,
               bounds: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """What the scaler's centres and scales are taken of: each numeric feature
    (``fit_raw_numeric``'s ``raw``) clipped to ``bounds`` and transformed, then each ordinal
    feature's legend position."""
    numeric = _transformed(raw if bounds is None else np.clip(raw, *bounds), spec.transforms)
    ordinal = np.column_stack([
        legend_positions(customers[name], spec.codes(name)) for name in spec.ordinal
    ]) if spec.ordinal else np.empty((len(customers), 0))  # fmt: skip
    return np.concatenate((numeric, ordinal), axis=1, dtype=np.float64)


def legend_positions(values: pd.Series, codes: tuple[Any, ...]) -> np.ndarray:
    """Each value's position in the legend ``codes`` (int64; -1 for a code outside it)."""
    return pd.Index(codes).get_indexer(values).astype(np.int64, copy=False)


def rare_codes(spec: FeatureSpec, counts: list[np.ndarray], rows: int
               ) -> tuple[tuple[int, ...], ...]:  # fmt: skip
    """Per nominal feature, the legend positions of codes under its ``min_share`` of the
    training customers (scored as ``other``).

    Args:
        spec: The feature specification.
        counts: Per nominal feature, the training customers with each legend code.
        rows: The number of training customers.
    """
    if not spec.min_shares:
        return ()
    rare = []
    for name, min_share, found in zip(spec.nominal, spec.min_shares, counts, strict=True):
        shares = found / max(rows, 1)
        positions = tuple(int(i) for i in np.flatnonzero(shares < min_share)) if min_share else ()
        if positions:
            logger.info("%s: %d code(s) under %.1f%% of the customers score as other: %s",
                        name, len(positions), 100 * min_share,
                        ", ".join(str(spec.codes(name)[i]) for i in positions))  # fmt: skip
        rare.append(positions)
    return tuple(rare)


def _known(positions: np.ndarray) -> np.ndarray:
    return positions[positions >= 0]


def _min_share(entry: Mapping[str, Any]) -> float:
    """A nominal entry's ``min_share``, checked (0 without one)."""
    share = entry.get("min_share", 0) or 0
    if not isinstance(share, int | float) or not 0 <= share < 1:
        raise ValueError(f"features.nominal: {entry['column']!r} has min_share {share!r}; "
                         "write a share of the customers, such as 0.01")  # fmt: skip
    return float(share)


def _unknown_code(entry: Mapping[str, Any]) -> str:
    """A nominal entry's ``unknown_code`` policy, checked (``reject`` by default)."""
    policy = entry.get("unknown_code", "reject")
    if policy not in ("reject", "other"):
        raise ValueError(f"features.nominal: {entry['column']!r} has unknown_code {policy!r}; "
                         "write reject (the row is rejected) or other")  # fmt: skip
    return policy


def _clip_quantiles(name: str, clip: Any) -> tuple[float, float] | None:
    """A numeric feature's ``clip: [low, high]`` quantiles, checked."""
    if clip is None:
        return None
    if (not isinstance(clip, list | tuple) or len(clip) != 2
            or not all(isinstance(q, int | float) and 0 <= q <= 1 for q in clip)
            or clip[0] >= clip[1]):  # fmt: skip
        raise ValueError(
            f"features.numeric: {name!r} has clip {clip!r}; write two quantiles "
            "[low, high] with 0 <= low < high <= 1, such as [0.01, 0.99]"
        )
    return float(clip[0]), float(clip[1])


def _clip_bounds(raw: np.ndarray, clips: tuple[tuple[float, float] | None, ...]) -> np.ndarray:
    """Each numeric column's clip bounds from its training quantiles; infinite if unclipped."""
    bounds = np.array([[-np.inf] * raw.shape[1], [np.inf] * raw.shape[1]])
    for column, quantiles in enumerate(clips):
        if quantiles is not None:
            bounds[:, column] = np.nanquantile(raw[:, column], quantiles)
    return bounds


def _transformed(numeric: np.ndarray, transforms: tuple[str, ...]) -> np.ndarray:
    """``numeric`` with each column's element-wise transform applied (a copy if any)."""
    by_transform = _columns_by_transform(transforms)
    if not by_transform:
        return numeric
    transformed = np.array(numeric, dtype=np.float64)
    for name, columns in by_transform:
        transformed[:, columns] = TRANSFORMS[name].function(transformed[:, columns])
    return transformed


@functools.cache
def _columns_by_transform(transforms: tuple[str, ...]) -> tuple[tuple[str, np.ndarray], ...]:
    """The columns of each transform other than ``none``."""
    names = dict.fromkeys(name for name in transforms if TRANSFORMS[name].function is not None)
    return tuple((name, np.flatnonzero(np.array(transforms) == name)) for name in names)


def _centre_and_scale(values: np.ndarray, scaler: str) -> tuple[np.ndarray, np.ndarray]:
    """Per column, ignoring the NaN of sentinel values (a column of nothing else: 0 and 1)."""
    if not len(values):
        return np.zeros(values.shape[1]), np.ones(values.shape[1])
    with warnings.catch_warnings():  # an all-sentinel column's NaN is replaced below
        warnings.simplefilter("ignore", RuntimeWarning)
        if scaler == "standard":
            centre, scale = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        elif scaler == "minmax":
            centre = np.nanmin(values, axis=0)
            scale = np.nanmax(values, axis=0) - centre
        else:
            low, centre, high = np.nanpercentile(values, [25, 50, 75], axis=0)
            scale = high - low
    return centre_and_scale(centre, scale)


def centre_and_scale(centre: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A scaler's statistics as centres and scales: no centre is 0; a zero or no scale, 1
    (a constant column maps to 0), as in scikit-learn's scalers."""
    return np.nan_to_num(centre), np.where((scale == 0) | np.isnan(scale), 1.0, scale)


def _without_sentinels(numeric: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """A copy of raw numeric features with each sentinel value as NaN."""
    numeric = np.array(numeric, dtype=np.float64)
    for i, value, _ in spec.flags:
        numeric[numeric[:, i] == value, i] = np.nan
    return numeric
