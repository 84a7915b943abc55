"""The raw customer schema from ``conf/`` and the row checks it implies.

``raw_schema`` in ``parameters_data_processing.yml`` is the one source of truth for the
raw table. This module turns it into typed objects and checks a raw DataFrame against it,
vectorised, so that the same rules serve the ``data_processing`` pipeline, batch
scoring and the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Kind = Literal["identifier", "numeric", "date", "binary", "ordinal", "nominal"]
CATEGORICAL_KINDS = ("binary", "ordinal", "nominal")

# Rule names, as counted in the data-quality summary.
MISSING_VALUE = "missing_value"
WRONG_TYPE = "wrong_type"
UNKNOWN_CODE = "unknown_code"
OUT_OF_RANGE = "out_of_range"
DUPLICATE_ID = "duplicate_id"
ROW_RULES = (MISSING_VALUE, WRONG_TYPE, UNKNOWN_CODE, OUT_OF_RANGE, DUPLICATE_ID)
INT64_MAX = 2**63 - 1
PLAIN_DECIMAL = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"  # as Arrow's cast parses it
# The identifier of a table without one: each row's 0-based position in the raw source.
ROW_INDEX = "row_index"


class RawDataError(ValueError):
    """A problem with a whole raw file: it cannot be used at all."""


@dataclass(frozen=True)
class ColumnSpec:
    """One raw column as declared in ``raw_schema.columns``.

    Attributes:
        name: Column name in the raw file.
        kind: ``identifier``, ``numeric``, ``date``, ``binary``, ``ordinal`` or ``nominal``.
        dtype: ``int``, ``float``, ``str`` or ``date``; categorical columns take their codes'
            type, date columns ``date``.
        codes: Allowed codes and their legend labels, in legend order (categoricals only).
        min: Smallest allowed value (numeric and date only), or ``None``.
        max: Largest allowed value (numeric and date only), or ``None``.
        label: What people call the column, in names, reports and the API's descriptions.
        unit: The unit of a numeric column's values, or ``None``.
        format: How a date column is written, as ``strftime`` codes (``%d/%m/%Y``); ``None``
            for ISO 8601 (``2024-12-31``, with or without a time).
        sentinels: Values of a numeric column that are no amount but mean something else
            ("-1: never contacted"), with their labels; valid whatever ``min`` and ``max``.
    """

    name: str
    kind: Kind
    dtype: str
    codes: dict[Any, str] = field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    label: str | None = None
    unit: str | None = None
    format: str | None = None
    sentinels: dict[float, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The column's label, else its name."""
        return self.label or self.name

    @property
    def written(self) -> str:
        """How a date column's values are written, for messages."""
        return f"a date written {self.format}" if self.format else "an ISO 8601 date"

    @property
    def range_text(self) -> str:
        """The allowed range, for messages: ``[18, 100]``, ``[2000-01-01, inf]``."""
        return f"[{_bound(self.min, -np.inf)}, {_bound(self.max, np.inf)}]"

    @property
    def is_numeric_typed(self) -> bool:
        """Whether raw values must parse as numbers."""
        return self.dtype in ("int", "float")

    @property
    def valid_dtype(self) -> str:
        """The dtype of valid values: ``float64``, ``str``, or for integers the smallest type
        that holds the codes or ``[min, max]`` (``int64`` without bounds): a code column of a
        large table takes one byte a row, not eight."""
        if self.dtype != "int":
            return {"float": "float64", "str": "str", "date": "datetime64[us]"}[self.dtype]
        low, high = (min(self.codes), max(self.codes)) if self.codes else (self.min, self.max)
        if low is None or high is None:
            return "int64"
        return next(
            (dtype for dtype in ("int8", "int16", "int32")
             if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max),
            "int64",
        )  # fmt: skip

    @classmethod
    def from_params(cls, name: str, params: Mapping[str, Any]) -> ColumnSpec:
        """Build a column spec from its ``raw_schema.columns.<name>`` entry."""
        kind = params["kind"]
        if kind not in ("identifier", "numeric", "date", *CATEGORICAL_KINDS):
            raise ValueError(f"raw_schema column {name!r}: unknown kind {kind!r}")
        codes = dict(params.get("codes") or {})
        if kind in CATEGORICAL_KINDS:
            if not codes:
                raise ValueError(f"raw_schema column {name!r}: a {kind} column needs `codes`")
            dtype = "int" if all(isinstance(code, int) for code in codes) else "str"
            codes = {
                (code if dtype == "int" else str(code)): label for code, label in codes.items()
            }
        elif kind == "date":
            dtype = "date"
        else:
            dtype = params.get("dtype", "float" if kind == "numeric" else "str")
        if dtype not in ("int", "float", "str", "date"):
            raise ValueError(f"raw_schema column {name!r}: unknown dtype {dtype!r}")
        bounds = [params.get("min"), params.get("max")]
        if kind == "date":
            bounds = [None if bound is None else _date(name, bound) for bound in bounds]
        elif params.get("format"):
            raise ValueError(f"raw_schema column {name!r}: only a date column has a format")
        sentinels = dict(params.get("sentinels") or {})
        if sentinels and (kind != "numeric" or not all(
                isinstance(value, int | float) and not isinstance(value, bool)
                for value in sentinels)):  # fmt: skip
            raise ValueError(
                f"raw_schema column {name!r}: sentinels are numbers of a numeric column with "
                "their meaning, such as {-1: never contacted}"
            )
        label, unit = params.get("label"), params.get("unit")
        return cls(name, kind, dtype, codes, *bounds, str(label) if label else None,
                   str(unit) if unit else None, params.get("format"),
                   {float(value): str(text) for value, text in sentinels.items()})  # fmt: skip


def _date(name: str, value: Any) -> pd.Timestamp:
    """A date column's bound, from a date or its ISO 8601 text."""
    try:
        return pd.Timestamp(str(value))
    except ValueError as error:
        raise ValueError(f"raw_schema column {name!r}: {value!r} is not a date: {error}") from None


@dataclass(frozen=True)
class RawSchema:
    """The raw table: its identifier column and every required column.

    Attributes:
        id_column: The identifier column; ``ROW_INDEX`` for a table without one.
        columns: Every column, the identifier first when it is a row's position.
        positional_id: Whether the identifier is each row's 0-based position in the raw
            source (or in a request), which the raw table does not hold.
    """

    id_column: str
    columns: dict[str, ColumnSpec]
    positional_id: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RawSchema:
        """Build the schema from the ``raw_schema`` parameter.

        Without ``id_column`` (or with ``id_column: null``) rows are identified by their
        0-based position, as ``ROW_INDEX``.
        """
        columns = {
            name: ColumnSpec.from_params(name, spec) for name, spec in params["columns"].items()
        }
        id_column = params.get("id_column")
        identifiers = [name for name, spec in columns.items() if spec.kind == "identifier"]
        if id_column in (None, ROW_INDEX) and ROW_INDEX not in columns:
            if identifiers:
                raise ValueError(
                    f"raw_schema declares the identifier column {identifiers[0]!r} but no "
                    f"id_column: set `id_column: {identifiers[0]}`, or make it another kind "
                    f"to identify rows by their 0-based position ({ROW_INDEX!r})."
                )
            position = ColumnSpec(ROW_INDEX, "identifier", "int", min=0)
            return cls(ROW_INDEX, {ROW_INDEX: position, **columns}, positional_id=True)
        if columns.get(id_column) is None or columns[id_column].kind != "identifier":
            found = ", ".join(f"{name!r} ({spec.kind})" for name, spec in columns.items())
            raise ValueError(
                f"raw_schema.id_column is {id_column!r}, which is not an identifier column of "
                f"raw_schema.columns: {found}. Name a column of kind identifier, or leave "
                f"id_column out to identify rows by their 0-based position ({ROW_INDEX!r})."
            )
        return cls(id_column, columns)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """The columns a raw table (or a request) must hold: all but a positional identifier."""
        if self.positional_id:
            return tuple(name for name in self.columns if name != self.id_column)
        return tuple(self.columns)

    def missing_columns(self, frame: pd.DataFrame) -> list[str]:
        """Names of required columns absent from ``frame``, in schema order."""
        return [name for name in self.raw_columns if name not in frame.columns]


@dataclass
class RowCheck:
    """What checking rows against the schema found.

    Attributes:
        typed: The schema's columns cast to their declared types; rows that failed hold
            whatever could be parsed (use ``valid`` to select the good ones).
        valid: Boolean mask, True for rows that passed every rule.
        reasons: For each failed row (by index label), every rule it broke, ``; ``-joined.
        counts: Violations per rule and column: ``{rule: {column: count}}``.
    """

    typed: pd.DataFrame
    valid: np.ndarray
    reasons: pd.Series
    counts: dict[str, dict[str, int]]


class EarlierIdentifiers:
    """The identifiers of the chunks of a table checked so far, sorted, for the repeat rule.

    A chunk's identifiers are looked up by binary search and merged in: memory is one array
    of the identifiers, not a hash table of Python objects.
    """

    def __init__(self) -> None:
        self._sorted: np.ndarray | None = None

    def repeats(self, ids: pd.Series) -> np.ndarray:
        """Mask of ``ids`` already seen in an earlier chunk."""
        found = np.zeros(len(ids), dtype=bool)
        if self._sorted is None or not len(self._sorted):
            return found
        present = ids.notna().to_numpy()
        values = ids[present].to_numpy()
        at = np.searchsorted(self._sorted, values).clip(max=len(self._sorted) - 1)
        found[present] = self._sorted[at] == values
        return found

    def add(self, ids: pd.Series) -> None:
        """Remember a chunk's identifiers."""
        new = sorted_distinct(ids.dropna().to_numpy())
        if self._sorted is None:
            self._sorted = new
        else:
            self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, new), new)


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: ``np.unique`` by a sort, 50 times numpy 2's hashing one
    on a chunk of identifiers."""
    ordered = np.sort(values)
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return ordered[first]


def check_rows(
    raw: pd.DataFrame, schema: RawSchema, earlier: EarlierIdentifiers | None = None,
    open_codes: frozenset[str] = frozenset(), duplicates: bool = True,
) -> RowCheck:  # fmt: skip
    """Check every row of ``raw`` against the schema, without dropping any.

    Rules, per column: a value is present; it parses as the declared type (integers have
    no fractional part); a categorical value is one of the legend's codes; a number lies
    within ``[min, max]``. The identifier must also be unique: later repeats of an ID are
    rejected, the first occurrence is kept.

    Args:
        raw: Raw customers; must hold every schema column (see ``missing_columns``).
        schema: The raw schema.
        earlier: For a table checked in chunks, the identifiers of the chunks before this
            one (updated with this chunk's).
        open_codes: Categorical columns whose codes outside the legend are kept (scored as
            ``other``: ``features.nominal``'s ``unknown_code: other``).
        duplicates: Whether to check that identifiers are unique here; ``False`` where the
            caller checks it across the whole table (Spark, ``spark.split_on_spark``).

    Returns:
        The typed columns, the validity mask, per-row reasons and per-rule counts.
    """
    typed: dict[str, pd.Series] = {}
    findings: list[tuple[str, str, pd.Series]] = []  # (rule, column, message per bad row)

    def flag(rule: str, column: str, mask: pd.Series, shown: pd.Series, text: str) -> None:
        """Record ``text`` (with ``{value}`` filled from ``shown``) for each masked row."""
        if mask.any():
            findings.append((rule, column, _messages(text, shown[mask])))

    for name, spec in schema.columns.items():
        values = raw[name]
        missing = values.isna()
        flag(MISSING_VALUE, name, missing, values, f"{name}: missing value")
        if spec.kind == "identifier" and spec.dtype == "int":
            column, not_integer, inexact, too_large = _integer_identifiers(values, missing)
            flag(WRONG_TYPE, name, not_integer, values, f"{name}: {{value}} is not an integer")
            flag(WRONG_TYPE, name, inexact, values,
                 f"{name}: {{value}} came as a floating-point number above 2^53, which cannot "
                 "hold an identifier exactly; read the column as text")  # fmt: skip
            flag(OUT_OF_RANGE, name, too_large, values,
                 f"{name}: {{value}} does not fit a 64-bit integer; declare the identifier "
                 "`dtype: str` to keep it as text")  # fmt: skip
        elif spec.kind == "date":
            column = _dates(values, spec.format)
            wrong_type = column.isna() & ~missing
            flag(WRONG_TYPE, name, wrong_type, values, f"{name}: {{value}} is not {spec.written}")
        elif spec.is_numeric_typed:
            column = _numbers(values)
            wrong_type = column.isna() & ~missing
            if spec.dtype == "int":
                wrong_type |= column.notna() & (np.floor(column) != column)
            expected = "an integer" if spec.dtype == "int" else "a finite number"
            flag(WRONG_TYPE, name, wrong_type, values, f"{name}: {{value}} is not {expected}")
            column = column.where(~wrong_type)
        else:
            column = values.astype("str").where(~missing)
        if spec.codes and name not in open_codes:
            unknown = column.notna() & ~column.isin(list(spec.codes))
            allowed = ", ".join(map(str, spec.codes))
            flag(
                UNKNOWN_CODE,
                name,
                unknown,
                column,
                f"{name}: code {{value}} is not in the legend ({allowed})",
            )
        if spec.min is not None or spec.max is not None:
            low, high = spec.min, spec.max
            outside = column.notna() & ~column.isin(list(spec.sentinels)) & (
                (column < low if low is not None else False)
                | (column > high if high is not None else False)
            )
            flag(
                OUT_OF_RANGE,
                name,
                outside,
                column,
                f"{name}: {{value}} is outside {spec.range_text}",
            )
        typed[name] = column

    typed_frame = pd.DataFrame(typed, index=raw.index)
    reasons = _join_reasons([messages for _, _, messages in findings], raw.index)
    counts: dict[str, dict[str, int]] = {}
    for rule, column, messages in findings:
        counts.setdefault(rule, {})[column] = len(messages)
    valid = ~raw.index.isin(reasons.index)
    check = RowCheck(typed_frame, valid, reasons, counts)
    return flag_duplicates(check, schema.id_column, earlier) if duplicates else check


def flag_duplicates(check: RowCheck, id_column: str,
                    earlier: EarlierIdentifiers | None = None) -> RowCheck:  # fmt: skip
    """``check`` with the unique-identifier rule added: a later repeat of an identifier, in
    these rows or (``earlier``, then updated) in the chunks before them, is rejected.

    The last of ``check_rows``' rules, kept apart so that chunks can be checked by the other
    rules in any order, and by this one in the table's order (``validation.split_chunks``).
    """
    ids = check.typed[id_column]
    duplicated = ids.notna() & ids.duplicated(keep="first")
    if earlier is not None:
        duplicated |= earlier.repeats(ids)
        earlier.add(ids)
    if not duplicated.any():
        return check
    messages = _messages(duplicate_reason(id_column), ids[duplicated])
    index = check.typed.index
    reasons = _join_reasons([check.reasons.rename(None), messages], index)
    counts = {**check.counts, DUPLICATE_ID: {id_column: int(duplicated.sum())}}
    return RowCheck(check.typed, ~index.isin(reasons.index), reasons, counts)


def _messages(text: str, shown: pd.Series) -> pd.Series:
    """``text`` for each row of ``shown``, its ``{value}`` (if any) filled from the row."""
    before, placeholder, after = text.partition("{value}")
    if placeholder:
        return (before + show_values(shown) + after).rename(None)
    return pd.Series(text, index=shown.index, dtype="object")


def duplicate_reason(id_column: str) -> str:
    """The reason of a row whose identifier an earlier row has, ``{value}`` to fill in."""
    return f"{id_column}: {{value}} repeats an earlier row's ID"


def _numbers(values: pd.Series) -> pd.Series:
    """Finite float64 numbers; anything else (text, booleans, inf) becomes NaN."""
    if values.dtype == bool or values.dtype == "boolean":
        return pd.Series(np.nan, index=values.index)
    if values.dtype == object:  # Python objects (a DataFrame built by hand): no booleans
        values = values.where(~values.map(lambda value: isinstance(value, bool)))
    if pd.api.types.is_string_dtype(values) and values.dtype != object:  # a text file's cells
        column = pd.Series(_text_numbers(values), index=values.index)
    else:
        column = pd.to_numeric(values, errors="coerce").astype("float64")
    return column.where(np.isfinite(column))


def _text_numbers(values: pd.Series) -> np.ndarray:
    """``pandas.to_numeric`` of text, 30 times faster: numbers by Arrow's cast.

    Arrow's cast reads a subset of what ``to_numeric`` reads (decimals, exponents, ``nan``,
    ``inf``), correctly rounded as Python's ``float``. A column it refuses is cast cell by
    cell where a cell is a plain decimal; only the rest (``1_000``, text) go through
    ``to_numeric``.
    """
    text = pc.utf8_trim_whitespace(pa.array(values, pa.string()))
    with contextlib.suppress(pa.ArrowInvalid):  # every cell a number, the common case
        return np.array(pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False), "float64")
    plain = pc.fill_null(pc.match_substring_regex(text, PLAIN_DECIMAL), False)
    numbers = pc.cast(pc.if_else(plain, text, pa.scalar(None, pa.string())), pa.float64())
    column = np.array(numbers.to_numpy(zero_copy_only=False), dtype="float64")  # null: NaN
    other = ~plain.to_numpy(zero_copy_only=False) & values.notna().to_numpy()
    if other.any():
        column[other] = pd.to_numeric(values[other], errors="coerce").astype("float64")
    return column


def parse_date(value: Any, spec: ColumnSpec) -> pd.Timestamp:
    """One date as ``check_rows`` reads it (for a single value, as in an API request).

    Raises:
        ValueError: With ``check_rows``' reason, if it is no date or out of range.
    """
    date = _dates(pd.Series([value], dtype=object), spec.format).iloc[0]
    if pd.isna(date):
        shown = show_values(pd.Series([value])).iloc[0]
        raise ValueError(f"{spec.name}: {shown} is not {spec.written}")
    if (spec.min is not None and date < spec.min) or (spec.max is not None and date > spec.max):
        raise ValueError(f"{spec.name}: {_bound(date)} is outside {spec.range_text}")
    return date


def _dates(values: pd.Series, date_format: str | None) -> pd.Series:
    """Dates parsed with ``date_format`` (ISO 8601 when ``None``); anything else is NaT.

    A column a database or a Parquet file delivers as dates is taken as it is.
    """
    if values.dtype.kind == "M":
        return values.astype("datetime64[us]")
    text = values.astype("str").where(values.notna())
    return pd.to_datetime(text, format=date_format or "ISO8601", errors="coerce").astype(
        "datetime64[us]"
    )


def integer_identifiers(values: pd.Series) -> pd.Series:
    """Identifiers parsed exactly as 64-bit integers (``pd.NA`` where a value is none)."""
    return _integer_identifiers(values, values.isna())[0]


def _integer_identifiers(values: pd.Series, missing: pd.Series) -> tuple[pd.Series, ...]:
    """Integer identifiers, exactly: never through float64, which rounds above 2^53.

    Integer columns are exact as they are. A float is taken only when whole and at most
    2^53 (the largest a float holds exactly); a boolean never. Text must be an optional sign
    and digits, with at most a fraction of zeros (``42.0``, as a float column is written),
    and fit 64 bits. Vectorised with Arrow's string kernels.

    Returns:
        The identifiers (nullable int64), and the masks of values that are not integers, of
        floats too large to be exact, and of integers beyond the 64-bit range.
    """
    none = pd.Series(False, index=values.index)
    kind = values.dtype.kind
    if kind == "b" or values.dtype == "boolean":
        return pd.Series(pd.NA, index=values.index, dtype="Int64"), ~missing, none, none
    if kind == "i":
        return values.astype("Int64"), none, none, none
    if kind == "u":
        too_large = values > INT64_MAX
        return values.where(~too_large).astype("Int64"), none, none, too_large
    if kind == "f":
        whole = np.isfinite(values) & (np.floor(values) == values)
        inexact = whole & (values.abs() > 2**53)
        exact = whole & ~inexact
        return values.where(exact).astype("Int64"), ~exact & ~missing & ~inexact, inexact, none
    if values.dtype == object:  # Python objects, as in a DataFrame built by hand: ints stay exact
        values = values.map(_identifier_text, na_action="ignore")
    text = pc.utf8_trim_whitespace(pa.array(values.astype("str").where(~missing), pa.string()))
    with contextlib.suppress(pa.ArrowInvalid):  # digits alone, within 64 bits: the common case
        if pc.all(pc.ascii_is_decimal(text)).as_py():
            exact = pc.cast(text, pa.int64()).to_pandas(types_mapper=pd.ArrowDtype)
            return exact.set_axis(values.index).astype("Int64"), none, none, none
    integer = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?\d+(\.0*)?$"), False)
    number = pc.replace_substring_regex(text, r"^\+|\.0*$", "")  # Arrow's cast refuses "+"
    digits = pc.replace_substring_regex(number, r"^[+-]?0*(\d)", r"\1")
    negative = pc.starts_with(number, "-")
    limit = pc.if_else(negative, str(INT64_MAX + 1), str(INT64_MAX))
    length = pc.utf8_length(digits)
    fits = pc.fill_null(pc.and_(integer, pc.or_(pc.less(length, 19), pc.and_(
        pc.equal(length, 19), pc.less_equal(digits, limit)))), False)  # fmt: skip
    exact = pc.cast(pc.if_else(fits, number, pa.scalar(None, pa.string())), pa.int64())
    as_series = {"integer": integer, "fits": fits}
    masks = {name: pd.Series(mask.to_numpy(zero_copy_only=False), index=values.index)
             for name, mask in as_series.items()}  # fmt: skip
    identifiers = exact.to_pandas(types_mapper=pd.ArrowDtype).set_axis(values.index)
    return (identifiers.astype("Int64"), ~masks["integer"] & ~missing, none,
            masks["integer"] & ~masks["fits"])  # fmt: skip


def _identifier_text(value: Any) -> str:
    """A Python value as identifier text: a boolean or an inexact float as text that fails."""
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, float | np.floating):
        whole = np.isfinite(value) and float(value).is_integer() and abs(value) <= 2**53
        return str(int(value)) if whole else repr(float(value))
    return str(value)


def cast_valid_rows(
    typed: pd.DataFrame, schema: RawSchema, open_codes: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """Give rows that passed ``check_rows`` their final dtypes (``ColumnSpec.valid_dtype``;
    an integer code outside the legend of an ``open_codes`` column: int64)."""
    return typed.astype(valid_dtypes(schema, open_codes))


def valid_dtypes(schema: RawSchema, open_codes: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each column's dtype in valid rows (``cast_valid_rows``)."""
    return {name: "int64" if name in open_codes and spec.dtype == "int" else spec.valid_dtype
            for name, spec in schema.columns.items()}  # fmt: skip


def show_values(values: pd.Series) -> pd.Series:
    """Values as a reason shows them (``{value}``): text quoted, whole floats without ``.0``."""
    return values.map(lambda value: repr(value) if isinstance(value, str) else _bound(value))


def _bound(value: Any, none: float = np.nan) -> str:
    """A value or range bound for a message: a date as ISO 8601, ``none`` for no bound."""
    if value is None:
        return _number(none)
    if isinstance(value, pd.Timestamp):
        return value.isoformat().removesuffix("T00:00:00")
    return _number(value)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _join_reasons(messages: list[pd.Series], index: pd.Index) -> pd.Series:
    if not messages:
        return pd.Series([], index=index[:0], dtype="object", name="reason")
    stacked = pd.concat(messages)
    joined = stacked.groupby(level=0, sort=False).agg("; ".join)
    return joined.reindex(index[index.isin(joined.index)]).rename("reason")
