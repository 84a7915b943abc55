"""Spending behaviour from a transaction log: checked lines, features per customer, RFM.

The log's layout lives in ``conf/`` (``transactions``): which column holds the customer, the
time, the amount (or quantity and unit price), the order, category, channel and status, and
which lines are cancellations or returns. Lines are checked with the customer table's own
rules (``schema.check_rows``) plus two of their own: an exact repeat of an earlier line, and a
customer the customer table does not hold. ``docs/behaviour.md`` defines every feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.schema import (
    ROW_INDEX,
    ColumnSpec,
    RawSchema,
    check_rows,
    sorted_distinct,
)

ROLES = ("customer", "timestamp", "amount", "quantity", "unit_price", "order", "category",
         "channel", "status")  # fmt: skip
UNKNOWN_CUSTOMER = ("reject", "keep")
OTHER = "other"
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


BASE_FEATURES = ("recency_days", "frequency", "frequency_window", "monetary_total",
                 "monetary_mean", "tenure_days", "mean_days_between_orders",
                 "active_months")  # fmt: skip


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


def check_lines(raw: pd.DataFrame, schema: TransactionSchema, customers: pd.Series) -> CheckedLines:
    """Check each line of a raw transaction log; keep the good ones, typed.

    Rules: the customer, timestamp and amount (or quantity and unit price) and, when
    configured, the order are present and parse; a line is not an exact repeat of an earlier
    line; its customer is in ``customers`` (unless ``unknown_customer: keep``).

    Args:
        raw: The log as read (text cells).
        schema: Its layout.
        customers: The identifiers of the customer table.

    Returns:
        The kept lines (typed, in the layout of ``CheckedLines.kept``) and the rejected ones.

    Raises:
        ValueError: A configured column is absent from the log.
    """
    names = schema.columns
    absent = [column for column in names.values() if column not in raw.columns]
    if absent:
        raise ValueError(f"The transaction log lacks the configured column(s) {absent}; it has "
                         f"{list(raw.columns)}")  # fmt: skip
    raw = raw.reset_index(drop=True)
    check = check_rows(raw.assign(**{ROW_INDEX: np.arange(len(raw))}), schema.required)
    reasons, counts = [check.reasons], {rule: dict(found) for rule, found in check.counts.items()}
    repeat = raw.duplicated(keep="first").to_numpy()
    unknown = np.zeros(len(raw), dtype=bool)
    if schema.unknown_customer == "reject":
        ids = check.typed[names["customer"]]
        unknown = (ids.notna() & ~ids.isin(customers.dropna().unique())).to_numpy()
    for rule, mask, text in (("repeated_line", repeat, "an exact repeat of an earlier line"),
                             ("unknown_customer", unknown, f"{names['customer']}: {{value}} is "
                              "not in the customer table")):  # fmt: skip
        if mask.any():
            shown = raw.loc[mask, names["customer"]].astype("str")
            reasons.append(pd.Series([text.format(value=value) for value in shown],
                                     index=raw.index[mask]))  # fmt: skip
            counts[rule] = {names["customer"]: int(mask.sum())}
    joined = pd.concat(reasons).groupby(level=0, sort=True).agg("; ".join)
    bad = np.zeros(len(raw), dtype=bool)
    bad[joined.index.to_numpy(dtype="int64")] = True
    rejected = raw[bad].assign(raw_row=np.flatnonzero(bad), reason=joined.to_numpy())
    return CheckedLines(_typed_lines(raw[~bad], check.typed[~bad], schema), rejected, counts)


def _typed_lines(raw: pd.DataFrame, typed: pd.DataFrame, schema: TransactionSchema) -> pd.DataFrame:
    """Kept lines in the layout ``behaviour_features`` reads."""
    names = schema.columns
    if "amount" in names:
        value = typed[names["amount"]].to_numpy(dtype="float64")
    else:
        value = (typed[names["quantity"]] * typed[names["unit_price"]]).to_numpy(dtype="float64")
    order = (typed[names["order"]] if "order" in names
             else pd.Series(np.arange(len(raw)), index=raw.index).astype("str"))  # fmt: skip
    cancelled = np.zeros(len(raw), dtype=bool)
    if "status" in names and schema.cancelled_status:
        cancelled |= raw[names["status"]].astype("str").isin(schema.cancelled_status).to_numpy()
    if schema.cancelled_order_prefix:
        cancelled |= order.str.startswith(schema.cancelled_order_prefix).to_numpy()
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
    })  # fmt: skip


def _grouped(raw: pd.DataFrame, column: str | None, kept: Sequence[str]) -> Any:
    """A column's values as text, those outside ``kept`` (or missing) as ``other``."""
    if column is None:
        return pd.array([OTHER] * len(raw), dtype="str")
    values = raw[column].astype("str")
    return values.where(values.isin(kept), OTHER).array


def default_as_of(lines: pd.DataFrame) -> pd.Timestamp:
    """The day after the newest line: the date behaviour is computed at when none is set."""
    return (pd.Timestamp(lines["timestamp"].max()).normalize() + pd.Timedelta(days=1)).as_unit("us")


def behaviour_features(
    lines: pd.DataFrame, customers: pd.Series, schema: TransactionSchema,
    as_of: pd.Timestamp, window_days: float,
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

    Returns:
        One row per customer (index: the identifier), columns ``schema.feature_columns``.
    """
    index = pd.Index(customers.to_numpy(), name="customer")
    n, end = len(index), np.datetime64(pd.Timestamp(as_of), "us").astype("int64")
    time = lines["timestamp"].to_numpy("datetime64[us]").view("int64")
    before = time < end
    span = (end - time[before].min()) / MICROSECONDS_PER_DAY if before.any() else 0.0
    owner = _positions(lines["customer"], index)  # -1: not a customer described
    described = before & (owner >= 0)
    cancelled = lines["cancelled"].to_numpy(dtype=bool)
    value = lines["value"].to_numpy(dtype="float64")
    bought, returned = described & ~cancelled, described & cancelled
    orders = _orders(owner[bought], lines["order"][bought], time[bought], value[bought])
    frequency = np.bincount(orders.owner, minlength=n)
    total = np.bincount(orders.owner, weights=orders.value, minlength=n)
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
                                minlength=n * width).reshape(n, width)  # fmt: skip
            shares = np.divide(spend, total[:, None], out=np.zeros_like(spend),
                               where=total[:, None] != 0)  # fmt: skip
            for name, column in zip([*kept, OTHER], shares.T, strict=True):
                features[f"{role}_share_{name}"] = column
    returned_value = np.bincount(owner[returned], weights=np.abs(value[returned]), minlength=n)
    gross = np.abs(total) + returned_value
    features["return_share"] = np.divide(returned_value, gross, out=np.zeros(n), where=gross > 0)
    features["no_transactions"] = (~some).astype("int64")
    return pd.DataFrame(features, index=index)[list(schema.feature_columns)]



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
    names = ["recency_score", "frequency_score", "monetary_score"]
    scores = pd.DataFrame(1, index=features.index, columns=names)
    for score, column, ascending in (("recency_score", "recency_days", False),
                                     ("frequency_score", "frequency", True),
                                     ("monetary_score", "monetary_total", True)):  # fmt: skip
        values = features.loc[active, column]
        if len(values):
            rank = values.rank(method="min", ascending=ascending)
            scores.loc[active, score] = (np.ceil(rank / len(values) * 5)).clip(1, 5).astype(int)
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
