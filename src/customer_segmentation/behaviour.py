"""Spending behaviour from a transaction log: checked lines, features per customer, RFM.

The log's layout lives in ``conf/`` (``transactions``): which column holds the customer, the
time, the amount (or quantity and unit price), the order, category, channel and status, and
which lines are cancellations or returns. Lines are checked with the customer table's own
rules (``schema.check_rows``) plus two of their own: an exact repeat of an earlier line, and a
customer the customer table does not hold. ``docs/behaviour.md`` defines every feature.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.schema import (
    ROW_INDEX,
    ColumnSpec,
    RawSchema,
    RowCheck,
    check_rows,
    integer_identifiers,
    sorted_distinct,
)
from customer_segmentation.validation import RAW_ROW

ROLES = ("customer", "timestamp", "amount", "quantity", "unit_price", "order", "category",
         "channel", "status")  # fmt: skip
UNKNOWN_CUSTOMER = ("reject", "keep")
OTHER = "other"
POSTED = "transactions"  # a customer's own lines, in a request or the MLflow model's input
ATTRIBUTE = "attribute:"  # a kept line's column of a customer attribute: attribute:COUNTRY
MICROSECONDS_PER_DAY = 86_400e6


@dataclass(frozen=True)
class TransactionSchema:
    """How a transaction log is laid out, parsed once from the ``transactions`` parameter.

    Attributes:
        columns: Each role's column in the log (``customer``, ``timestamp``, ``amount`` or
            ``quantity`` and ``unit_price``; optional ``order``, ``category``, ``channel``,
            ``status``).
        customer_dtype: ``int`` or ``str``: the customer table's identifier type.
        timestamp_format: ``strftime`` codes of the timestamps; ``None`` for ISO 8601.
        cancelled_status: Status values that mark a cancellation or a return.
        cancelled_order_prefix: An order-id prefix that marks one (``C`` in Online Retail).
        cancelled_negative_quantity: Whether a negative quantity marks one.
        categories: The categories whose share of spend is a feature; others are ``other``.
        channels: The channels whose share of spend is a feature; others are ``other``.
        unknown_customer: ``reject`` or ``keep`` a line whose customer is not in the table.
        attributes: Columns of the log that describe the customer, not the line (a country):
            each customer takes their most frequent value (``customer_attributes``), and a
            log without a customer table (``segment_on: behaviour``) segments on them too.
    """

    columns: dict[str, str]
    customer_dtype: str = "int"
    timestamp_format: str | None = None
    cancelled_status: tuple[str, ...] = ()
    cancelled_order_prefix: str | None = None
    cancelled_negative_quantity: bool = False
    categories: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    unknown_customer: str = "reject"
    attributes: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, Any], customer_dtype: str) -> TransactionSchema:
        """Build the schema from the ``transactions`` parameter.

        Raises:
            ValueError: A required role has no column, or a setting is unknown.
        """
        columns = {role: str(column) for role, column in (params.get("columns") or {}).items()
                   if column is not None}  # fmt: skip
        unknown = sorted(set(columns) - set(ROLES))
        has_amount = "amount" in columns or {"quantity", "unit_price"} <= set(columns)
        if unknown or "customer" not in columns or "timestamp" not in columns or not has_amount:
            raise ValueError(
                "transactions.columns needs `customer`, `timestamp` and `amount` (or "
                f"`quantity` and `unit_price`); optional: order, category, channel, status. "
                f"Got {sorted(columns)}{'; unknown: ' + str(unknown) if unknown else ''}"
            )
        cancelled = params.get("cancelled") or {}
        policy = params.get("unknown_customer", "reject")
        if policy not in UNKNOWN_CUSTOMER:
            raise ValueError(
                f"transactions.unknown_customer must be reject or keep, got {policy!r}")
        return cls(
            columns=columns,
            customer_dtype=customer_dtype,
            timestamp_format=params.get("timestamp_format"),
            cancelled_status=tuple(str(value) for value in cancelled.get("status") or ()),
            cancelled_order_prefix=cancelled.get("order_prefix"),
            cancelled_negative_quantity=bool(cancelled.get("negative_quantity", False)),
            categories=tuple(str(value) for value in params.get("categories") or ()),
            channels=tuple(str(value) for value in params.get("channels") or ()),
            unknown_customer=policy,
            attributes=tuple(str(name) for name in params.get("attributes") or ()),
        )

    @property
    def required(self) -> RawSchema:
        """The columns every line must hold, as a raw schema (lines known by position)."""
        names = self.columns
        columns = {
            ROW_INDEX: ColumnSpec(ROW_INDEX, "identifier", "int", min=0),
            names["customer"]: ColumnSpec(names["customer"], "identifier", self.customer_dtype),
            names["timestamp"]: ColumnSpec(names["timestamp"], "date", "date",
                                           format=self.timestamp_format),  # fmt: skip
        }
        for role in ("amount", "quantity", "unit_price"):
            if role in names:
                columns[names[role]] = ColumnSpec(names[role], "numeric", "float")
        if "order" in names:
            columns[names["order"]] = ColumnSpec(names["order"], "identifier", "str")
        return RawSchema(ROW_INDEX, columns, positional_id=True)

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """The behaviour features, in the order ``behaviour_features`` writes them."""
        shares = [f"category_share_{name}" for name in (*self.categories, OTHER)
                  if "category" in self.columns]  # fmt: skip
        shares += [f"channel_share_{name}" for name in (*self.channels, OTHER)
                   if "channel" in self.columns]  # fmt: skip
        return (*BASE_FEATURES, *shares, "return_share", "no_transactions")

    def raw_columns(self) -> dict[str, dict[str, Any]]:
        """The behaviour features as ``raw_schema.columns`` entries: a table joined with them
        is checked, described and served like any customer table."""
        columns = {}
        for name in self.feature_columns:
            role, share, value = name.partition("_share_")
            if share and role in ("category", "channel"):
                columns[name] = {"kind": "numeric", "dtype": "float",
                                 "label": f"{value} share"}  # fmt: skip
            else:
                columns[name] = dict(BEHAVIOUR_COLUMNS[name])
        return columns


@dataclass(frozen=True)
class BehaviourSpec:
    """What scoring needs to derive behaviour from transactions as training did.

    Attributes:
        schema: The log's layout, categories and channels.
        window_days: The window of ``frequency_window``.
    """

    schema: TransactionSchema
    window_days: float

    @classmethod
    def from_params(
        cls, transactions: Mapping[str, Any], behaviour: Mapping[str, Any],
        raw_schema: Mapping[str, Any],
    ) -> BehaviourSpec:  # fmt: skip
        """Build it from the ``transactions``, ``behaviour`` and ``raw_schema`` parameters
        (customer identifiers are typed as the customer table's)."""
        schema = RawSchema.from_params(raw_schema)
        dtype = schema.columns[schema.id_column].dtype
        return cls(TransactionSchema.from_params(transactions, dtype),
                   float(behaviour["window_days"]))  # fmt: skip


def derived_columns(spec: BehaviourSpec | None) -> tuple[str, ...]:
    """The behaviour columns ``join_behaviour`` adds to a customer table (none without a
    ``spec``): the project's own, whichever of them a run segments on."""
    return spec.schema.feature_columns if spec else ()


def as_of_date(value: Any) -> pd.Timestamp | None:
    """A configured or requested ``as_of`` as a timestamp; ``None`` when not set."""
    return pd.Timestamp(value).as_unit("us") if value else None


BASE_FEATURES = ("recency_days", "frequency", "frequency_window", "monetary_total",
                 "monetary_mean", "tenure_days", "mean_days_between_orders",
                 "active_months")  # fmt: skip
# How each behaviour feature is declared as a raw column (``behaviour_columns``): its
# kind, type, bounds and what people call it. Shares are added per category and channel.
_DAYS = {"kind": "numeric", "dtype": "float", "min": 0, "unit": "days"}
_COUNT = {"kind": "numeric", "dtype": "int", "min": 0}
_MONEY = {"kind": "numeric", "dtype": "float"}
BEHAVIOUR_COLUMNS: dict[str, dict[str, Any]] = {
    "recency_days": {**_DAYS, "label": "time since the last order"},
    "frequency": {**_COUNT, "label": "orders", "unit": "orders"},
    "frequency_window": {**_COUNT, "label": "orders in the window", "unit": "orders"},
    "monetary_total": {**_MONEY, "label": "spend"},
    "monetary_mean": {**_MONEY, "label": "spend per order"},
    "tenure_days": {**_DAYS, "label": "time since the first order"},
    "mean_days_between_orders": {**_DAYS, "label": "days between orders"},
    "active_months": {**_COUNT, "label": "months with an order", "unit": "months"},
    "return_share": {"kind": "numeric", "dtype": "float", "min": 0, "max": 1,
                     "label": "share returned or cancelled"},
    "no_transactions": {"kind": "binary", "codes": {0: "has orders", 1: "no orders"},
                        "label": "no orders"},
}  # fmt: skip


@dataclass(frozen=True)
class CheckedLines:
    """The lines of a transaction log that were kept, typed, and those rejected.

    Attributes:
        kept: ``customer``, ``timestamp``, ``value``, ``order``, ``category``, ``channel`` and
            ``cancelled`` of each kept line, in log order.
        rejected: Rejected lines as read, with ``raw_row`` (0-based line) and ``reason``.
        counts: Rejected lines per rule and column: ``{rule: {column: count}}``.
    """

    kept: pd.DataFrame
    rejected: pd.DataFrame
    counts: dict[str, dict[str, int]]


def check_lines(raw: pd.DataFrame, schema: TransactionSchema,
                customers: pd.Series | None) -> CheckedLines:  # fmt: skip
    """Check each line of a raw transaction log; keep the good ones, typed.

    Rules: the customer, timestamp and amount (or quantity and unit price) and, when
    configured, the order are present and parse; a line is not an exact repeat of an earlier
    line; its customer is in ``customers`` (unless ``unknown_customer: keep``, or there is no
    customer table: ``customers`` is ``None``).

    Args:
        raw: The log as read (text cells).
        schema: Its layout.
        customers: The identifiers of the customer table; ``None`` without one.

    Returns:
        The kept lines (typed, in the layout of ``CheckedLines.kept``) and the rejected ones.

    Raises:
        ValueError: A configured column is absent from the log.
    """
    check_log_columns(raw.columns, schema)
    names = schema.columns
    raw = raw.reset_index(drop=True)
    check = check_line_rules(raw, schema, np.arange(len(raw)))
    reasons, counts = [check.reasons], {rule: dict(found) for rule, found in check.counts.items()}
    repeat = raw.duplicated(keep="first").to_numpy()
    unknown = np.zeros(len(raw), dtype=bool)
    if schema.unknown_customer == "reject" and customers is not None:
        ids = check.typed[names["customer"]]
        unknown = (ids.notna() & ~ids.isin(customers.dropna().unique())).to_numpy()
    for rule, mask in (("repeated_line", repeat), ("unknown_customer", unknown)):
        if mask.any():
            shown = raw.loc[mask, names["customer"]].astype("str")
            reasons.append(pd.Series([LINE_REASONS[rule].format(column=names["customer"],
                                                                value=value) for value in shown],
                                     index=raw.index[mask]))  # fmt: skip
            counts[rule] = {names["customer"]: int(mask.sum())}
    joined = pd.concat(reasons).groupby(level=0, sort=True).agg("; ".join)
    bad = np.zeros(len(raw), dtype=bool)
    bad[joined.index.to_numpy(dtype="int64")] = True
    rejected = raw[bad].assign(**{RAW_ROW: np.flatnonzero(bad)}, reason=joined.to_numpy())
    return CheckedLines(typed_lines(raw[~bad], check.typed[~bad], schema), rejected, counts)


# The reasons of the rules across lines, in the order a line's reasons are given.
LINE_REASONS = {"repeated_line": "an exact repeat of an earlier line",
                "unknown_customer": "{column}: {value} is not in the customer table"}  # fmt: skip


def check_log_columns(columns: Iterable[Any], schema: TransactionSchema) -> None:
    """Raise ``ValueError`` if a configured column is absent from the log's ``columns``."""
    columns = list(columns)
    absent = [column for column in (*schema.columns.values(), *schema.attributes)
              if column not in columns]  # fmt: skip
    if absent:
        raise ValueError(f"The transaction log lacks the configured column(s) {absent}; it has "
                         f"{columns}")  # fmt: skip


def check_line_rules(raw: pd.DataFrame, schema: TransactionSchema, rows: np.ndarray) -> RowCheck:
    """The rules of each line on its own (``schema.check_rows`` of ``schema.required``), the
    lines known by their 0-based place in the log, ``rows``."""
    return check_rows(raw.assign(**{ROW_INDEX: rows}), schema.required)


def check_line_batch(raw: pd.DataFrame, schema: TransactionSchema) -> pd.DataFrame:
    """One batch of a log checked by the rules of a line on its own; the caller checks repeats
    and unknown customers across the whole log (``spark_behaviour.check_lines_on_spark``).

    Args:
        raw: ``raw_row`` (the line's place in the whole log), then the log's columns as read.
        schema: The log's layout.

    Returns:
        Per line: ``raw_row``; ``reason`` (the rules broken, else missing); the columns of
        ``CheckedLines.kept``, missing where the line breaks a rule but ``customer``, typed
        where it parses; on the batch's first line only, ``batch_counts`` (rule → column →
        lines, JSON).
    """
    lines = raw.drop(columns=RAW_ROW)
    check = check_line_rules(lines, schema, raw[RAW_ROW].to_numpy())
    passed = check.valid
    kept = typed_lines(lines[passed], check.typed[passed], schema).set_axis(lines.index[passed])
    output = kept.reindex(lines.index).assign(
        customer=check.typed[schema.columns["customer"]],
        cancelled=kept["cancelled"].reindex(lines.index).astype("boolean"))
    output.insert(0, "reason", check.reasons.reindex(lines.index))
    output.insert(0, RAW_ROW, raw[RAW_ROW].to_numpy())
    output["batch_counts"] = None
    if len(output):
        output.iloc[0, -1] = json.dumps(check.counts)
    return output


def typed_lines(raw: pd.DataFrame, typed: pd.DataFrame, schema: TransactionSchema) -> pd.DataFrame:
    """Kept lines in the layout ``behaviour_features`` reads (``CheckedLines.kept``)."""
    names = schema.columns
    if "amount" in names:
        value = typed[names["amount"]].to_numpy(dtype="float64")
    else:
        value = (typed[names["quantity"]] * typed[names["unit_price"]]).to_numpy(dtype="float64")
    order = (typed[names["order"]] if "order" in names  # else each line is an order: its place
             else pd.Series(typed[ROW_INDEX].to_numpy(), index=raw.index).astype("str"))
    cancelled = np.zeros(len(raw), dtype=bool)
    if "status" in names and schema.cancelled_status:
        cancelled |= raw[names["status"]].astype("str").isin(schema.cancelled_status).to_numpy()
    if schema.cancelled_order_prefix:
        cancelled |= order.str.startswith(schema.cancelled_order_prefix).to_numpy(dtype=bool)
    if schema.cancelled_negative_quantity and "quantity" in names:
        cancelled |= (typed[names["quantity"]] < 0).to_numpy()
    return pd.DataFrame({
        "customer": typed[names["customer"]].array,
        "timestamp": typed[names["timestamp"]].to_numpy(),
        "value": value,
        "order": order.array,  # text stays Arrow-backed: grouping it is fast
        "category": _grouped(raw, names.get("category"), schema.categories),
        "channel": _grouped(raw, names.get("channel"), schema.channels),
        "cancelled": cancelled,
        **{ATTRIBUTE + name: raw[name].astype("str").array for name in schema.attributes},
    })  # fmt: skip


def _grouped(raw: pd.DataFrame, column: str | None, kept: Sequence[str]) -> Any:
    """A column's values as text, those outside ``kept`` (or missing) as ``other``."""
    if column is None:
        return pd.array([OTHER] * len(raw), dtype="str")
    values = raw[column].astype("str")
    return values.where(values.isin(kept), OTHER).array


def default_as_of(lines: pd.DataFrame) -> pd.Timestamp:
    """The day after the newest line: the date behaviour is computed at when none is set.

    Raises:
        ValueError: There is no line to date it by.
    """
    return day_after(lines["timestamp"].max() if len(lines) else None)


def day_after(newest: Any) -> pd.Timestamp:
    """The day after a log's newest line (``None`` without one): the default ``as_of``.

    Raises:
        ValueError: There is no line to date it by.
    """
    if newest is None:
        raise ValueError("No transaction line was kept, so there is no date to describe "
                         "behaviour at: set `behaviour.as_of` (or send `as_of`).")  # fmt: skip
    return (pd.Timestamp(newest).normalize() + pd.Timedelta(days=1)).as_unit("us")


def behaviour_features(
    lines: pd.DataFrame, customers: pd.Series, schema: TransactionSchema,
    as_of: pd.Timestamp, window_days: float, since: Any = None,
) -> pd.DataFrame:  # fmt: skip
    """Each customer's behaviour as of ``as_of``, from the kept lines before it.

    Counts and sums are NumPy ``bincount``s over integer codes (customers, orders, months,
    categories), not pandas group-bys: a log of ten million lines takes seconds
    (``benchmarks/behaviour.py``). ``tests/behaviour_reference.py`` computes the same features
    with plain pandas group-bys, and ``tests/test_behaviour.py`` checks that both agree.

    Args:
        lines: Kept lines (``CheckedLines.kept``).
        customers: The customers to describe, in their order; a customer without a line
            before ``as_of`` gets the defined values of ``docs/behaviour.md`` and
            ``no_transactions`` = 1.
        schema: The log's layout (categories and channels).
        as_of: The day the features describe; lines at or after it are left out.
        window_days: The window of ``frequency_window``, in days before ``as_of``.
        since: The time of the log's first line before ``as_of``, where ``lines`` are a part
            of the log (``spark_behaviour``); default: of ``lines``. A customer without an
            order was last seen that long ago (``recency_days``).

    Returns:
        One row per customer (index: the identifier), columns ``schema.feature_columns``.
    """
    index = pd.Index(customers.to_numpy(), name="customer")
    n, end = len(index), np.datetime64(pd.Timestamp(as_of), "us").astype("int64")
    time = lines["timestamp"].to_numpy("datetime64[us]").view("int64")
    before = time < end
    if since is None:
        since = time[before].min() if before.any() else end
    else:
        since = np.datetime64(pd.Timestamp(since), "us").astype("int64")
    span = (end - since) / MICROSECONDS_PER_DAY
    owner = _positions(lines["customer"], index)  # -1: not a customer described
    described = before & (owner >= 0)
    cancelled = lines["cancelled"].to_numpy(dtype=bool)
    value = lines["value"].to_numpy(dtype="float64")
    bought, returned = described & ~cancelled, described & cancelled
    orders = _orders(owner[bought], lines["order"][bought], time[bought], value[bought])
    frequency = np.bincount(orders.owner, minlength=n)
    total = np.bincount(orders.owner, weights=orders.value, minlength=n).astype("float64")
    first = np.full(n, np.iinfo("int64").max)
    last = np.full(n, np.iinfo("int64").min)
    np.minimum.at(first, orders.owner, orders.time)
    np.maximum.at(last, orders.owner, orders.time)
    some = frequency > 0
    recency = np.where(some, (end - last) / MICROSECONDS_PER_DAY, span)
    tenure = np.where(some, (end - first) / MICROSECONDS_PER_DAY, 0.0)
    between = np.where(frequency > 1, (last - first) / MICROSECONDS_PER_DAY
                       / np.maximum(frequency - 1, 1), recency)  # fmt: skip
    recent = (end - orders.time) / MICROSECONDS_PER_DAY <= window_days
    features = {
        "recency_days": recency,
        "frequency": frequency,
        "frequency_window": np.bincount(orders.owner[recent], minlength=n),
        "monetary_total": total,
        "monetary_mean": np.divide(total, frequency, out=np.zeros(n), where=some),
        "tenure_days": tenure,
        "mean_days_between_orders": between,
        "active_months": _active_months(orders, n),
    }
    for role, kept in (("category", schema.categories), ("channel", schema.channels)):
        if role in schema.columns:
            width = len(kept) + 1
            code = _positions(lines[role][bought], pd.Index([*kept, OTHER]))
            code[code < 0] = width - 1  # anything else is other
            spend = np.bincount(owner[bought] * width + code, weights=value[bought],
                                minlength=n * width).astype("float64").reshape(n, width)
            shares = np.divide(spend, total[:, None], out=np.zeros_like(spend),
                               where=total[:, None] != 0)  # fmt: skip
            for name, column in zip([*kept, OTHER], shares.T, strict=True):
                features[f"{role}_share_{name}"] = column
    returned_value = np.bincount(owner[returned], weights=np.abs(value[returned]),
                                 minlength=n).astype("float64")  # empty: int, else float
    gross = np.abs(total) + returned_value
    features["return_share"] = np.divide(returned_value, gross, out=np.zeros(n), where=gross > 0)
    features["no_transactions"] = (~some).astype("int64")
    return pd.DataFrame(features, index=index)[list(schema.feature_columns)]


def customer_attributes(lines: pd.DataFrame, customers: pd.Series,
                        attributes: Sequence[str]) -> pd.DataFrame:  # fmt: skip
    """Each customer's most frequent value of each attribute over their kept lines (of equal
    counts, the first in sort order); missing for a customer without a line.

    Returns:
        One row per customer (index: the identifier), one column per attribute.
    """
    index = pd.Index(customers.to_numpy(), name="customer")
    columns = {}
    for name in attributes:
        pairs = pd.DataFrame({"customer": lines["customer"].array,
                              "value": lines[ATTRIBUTE + name].array}).dropna()  # fmt: skip
        counts = pairs.value_counts().rename("count").reset_index()
        top = counts.sort_values(["customer", "count", "value"], ascending=[True, False, True],
                                 kind="stable").drop_duplicates("customer")  # fmt: skip
        columns[name] = top.set_index("customer")["value"].reindex(index).array
    return pd.DataFrame(columns, index=index)


def typed_identifiers(values: pd.Series, dtype: str) -> pd.Series:
    """Raw identifiers typed as the identifier column declares (``int`` or ``str``); missing
    where a value does not parse."""
    if dtype == "int":
        return integer_identifiers(values)
    return values.astype("str").where(values.notna())


def distinct_identifiers(values: pd.Series, dtype: str, name: str) -> pd.Series:
    """The distinct identifiers of a raw column that parse, in first-seen order."""
    ids = typed_identifiers(values, dtype).dropna()
    return pd.Series(ids.unique(), name=name).astype(ids.dtype)


def join_behaviour(customers: pd.DataFrame, behaviour: pd.DataFrame, id_column: str,
                   dtype: str) -> pd.DataFrame:  # fmt: skip
    """A raw customer table with each customer's behaviour features as further columns.

    Args:
        customers: Raw customers, as read.
        behaviour: Behaviour features, indexed by typed identifier.
        id_column: The customers' identifier column.
        dtype: The identifier's declared type.

    Returns:
        ``customers`` with one column per behaviour feature. A row whose identifier does not
        parse is rejected for it later; its behaviour cells are 0, so that the identifier is
        the one reason given.
    """
    positions = behaviour.index.get_indexer(typed_identifiers(customers[id_column], dtype))
    found = positions >= 0
    columns = {}
    for name, values in behaviour.items():
        if values.dtype.kind not in "biuf":  # an attribute, as text: missing where not found
            columns[name] = values.reindex(behaviour.index[positions].where(found)).array
            continue
        taken = (values.to_numpy()[np.where(found, positions, 0)] if len(values)
                 else np.zeros(len(customers), values.dtype))  # fmt: skip
        columns[name] = np.where(found, taken, 0).astype(values.dtype)
    return customers.assign(**columns)


def add_behaviour(customers: pd.DataFrame, lines_raw: pd.DataFrame, spec: BehaviourSpec,
                  id_column: str, as_of: pd.Timestamp | None = None) -> ScoringInput:  # fmt: skip
    """Customers to score joined with their behaviour, derived from their transactions.

    The lines are checked as in training, except that lines of customers not being scored
    are left out, not rejected: a log usually covers more customers than a batch.

    Args:
        customers: Raw customers, as read.
        lines_raw: Their transaction lines, as read.
        spec: How training derived behaviour (the segmenter's).
        id_column: The customers' identifier column.
        as_of: The date to describe; default the day after the newest line.

    Returns:
        The joined table and the lines rejected, with their reasons.
    """
    schema = spec.schema
    checked = check_lines(lines_raw, schema, None)  # other customers' lines: left out
    ids = distinct_identifiers(customers[id_column], schema.customer_dtype, id_column)
    as_of = as_of or default_as_of(checked.kept)
    features = behaviour_features(checked.kept, ids, schema, as_of, spec.window_days)
    absent = [name for name in schema.attributes if name not in customers.columns]
    if absent:  # a log's customers: their attributes from their lines
        features = features.join(customer_attributes(checked.kept, ids, absent))
    joined = join_behaviour(customers, features, id_column, schema.customer_dtype)
    return ScoringInput(joined, checked.rejected, as_of)


def posted_lines(customers: pd.DataFrame, id_column: str, schema: TransactionSchema
                 ) -> tuple[pd.DataFrame, list[tuple[int, int]]]:  # fmt: skip
    """The lines customers carry themselves (``POSTED``: a list of lines, or its JSON text,
    each line keyed by the log's column names), as one log.

    Each line's customer is its row's identifier, and its attributes the row's own.

    Returns:
        The log, and each line's row (0-based, in ``customers``) and place among its row's.
    """
    owners, records = [], []
    for row, cell in enumerate(customers[POSTED].tolist()):
        lines = json.loads(cell) if isinstance(cell, str) else cell
        for place, line in enumerate(lines if isinstance(lines, list | tuple) else ()):
            owners.append((row, place))
            records.append(line)
    names = schema.columns
    log = pd.DataFrame.from_records(
        records, columns=[column for role, column in names.items() if role != "customer"])
    rows = [row for row, _ in owners]
    log[names["customer"]] = customers[id_column].to_numpy(dtype=object)[rows]
    for name in schema.attributes:
        log[name] = customers[name].to_numpy(dtype=object)[rows] if name in customers else None
    return log, owners


@dataclass(frozen=True)
class ScoringInput:
    """Customers joined with their behaviour, and what was left out to get there.

    Attributes:
        customers: The customers with one column per behaviour feature.
        rejected_lines: Transaction lines rejected, as read, with ``raw_row`` and ``reason``.
        as_of: The date the behaviour describes.
    """

    customers: pd.DataFrame
    rejected_lines: pd.DataFrame
    as_of: pd.Timestamp


@dataclass(frozen=True)
class _Orders:
    """The orders of a log: each one's customer (a position), first line's time and value."""

    owner: np.ndarray
    time: np.ndarray
    value: np.ndarray


def _positions(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Each value's position in ``index`` (-1 if absent), looked up once per distinct value:
    Arrow-backed text is factorised without becoming Python objects."""
    codes, distinct = pd.factorize(values)
    positions = np.append(index.get_indexer(distinct), -1)  # a missing value's code is -1
    return positions[codes]


def _orders(owner: np.ndarray, order: pd.Series, time: np.ndarray, value: np.ndarray) -> _Orders:
    """Lines grouped into orders: one order id of one customer is one order."""
    order_code, order_ids = pd.factorize(order)
    key = owner.astype("int64") * max(len(order_ids), 1) + order_code
    line_order, keys = pd.factorize(key)
    first_time = np.full(len(keys), np.iinfo("int64").max)
    np.minimum.at(first_time, line_order, time)
    return _Orders(keys // max(len(order_ids), 1), first_time,
                   np.bincount(line_order, weights=value, minlength=len(keys)))  # fmt: skip


def _active_months(orders: _Orders, n: int) -> np.ndarray:
    """Calendar months with an order, per customer."""
    month = orders.time.astype("datetime64[us]").astype("datetime64[M]").astype("int64")
    if not len(month):
        return np.zeros(n, dtype="int64")
    months = month.max() - month.min() + 1
    pairs = sorted_distinct(orders.owner * months + (month - month.min()))  # (customer, month)
    return np.bincount(pairs // months, minlength=n)


# RFM: quintile scores and the classic segment map, as a partition of the 5 x 5 grid of the
# recency score and the mean of the frequency and monetary scores (rounded half up).
RFM_SEGMENTS = (
    ("Champions", (4, 5), (4, 5)),
    ("Loyal", (3, 5), (3, 5)),
    ("Cannot lose them", (1, 1), (4, 5)),
    ("At risk", (1, 2), (3, 5)),
    ("Potential loyalists", (4, 5), (2, 2)),
    ("New", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need attention", (3, 3), (2, 2)),
    ("About to sleep", (3, 3), (1, 1)),
    ("Hibernating", (2, 2), (1, 2)),
    ("Lost", (1, 1), (1, 2)),
)


def rfm_scores(features: pd.DataFrame) -> pd.DataFrame:
    """R, F and M quintile scores (1 to 5, 5 best) and the RFM segment of each customer.

    Recency scores high when recent; frequency and monetary value when high. Scores are
    quintiles of the ranks (ties share the lowest rank), so equal values score alike.
    Customers without transactions score 1 on each.

    Returns:
        ``recency_score``, ``frequency_score``, ``monetary_score`` and ``rfm_segment``.
    """
    active = features["no_transactions"] == 0
    ranks = pd.DataFrame(index=features.index)
    for score, (column, ascending) in RFM_RANKS.items():
        ranks[score] = features[column].where(active).rank(method="min", ascending=ascending)
    return rfm_scores_of_ranks(ranks, int(active.sum()))


# Each score's column, and whether it ranks from low to high values (1 = lowest).
RFM_RANKS = {"recency_score": ("recency_days", False), "frequency_score": ("frequency", True),
             "monetary_score": ("monetary_total", True)}  # fmt: skip


def rfm_scores_of_ranks(ranks: pd.DataFrame, active: int) -> pd.DataFrame:
    """``rfm_scores`` from each customer's ranks among the ``active`` customers (those with
    transactions; a missing rank otherwise), as ``RFM_RANKS`` ranks them.

    Returns:
        ``recency_score``, ``frequency_score``, ``monetary_score`` and ``rfm_segment``.
    """
    scores = pd.DataFrame(index=ranks.index)
    for score in RFM_RANKS:
        quintile = np.ceil(ranks[score].to_numpy(dtype="float64") / max(active, 1) * 5)
        scores[score] = np.nan_to_num(quintile, nan=1).clip(1, 5).astype("int64")
    frequency_monetary = np.floor(
        (scores["frequency_score"] + scores["monetary_score"]) / 2 + 0.5)
    scores["rfm_segment"] = [
        rfm_segment(r, fm) for r, fm in zip(scores["recency_score"], frequency_monetary,
                                              strict=True)
    ]  # fmt: skip
    return scores


def rfm_segment(recency_score: int, frequency_monetary_score: float) -> str:
    """The named RFM segment of a recency score and a frequency-monetary score (1 to 5)."""
    for name, (r_low, r_high), (fm_low, fm_high) in RFM_SEGMENTS:
        if r_low <= recency_score <= r_high and fm_low <= frequency_monetary_score <= fm_high:
            return name
    raise ValueError(f"no RFM segment for R={recency_score}, FM={frequency_monetary_score}")
