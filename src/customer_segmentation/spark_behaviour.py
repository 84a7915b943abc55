"""Spending behaviour on Spark: a transaction log's checks, features and RFM scores.

The same split as ``spark.py``: what one line shows (its rules, its typed value, whether it
is a cancellation) is ``behaviour.check_line_batch`` on each Arrow batch; what lines show
together is Spark: exact repeats (a window over every column), customers the table does not
hold (a join), the log's dates. Each customer's features are ``behaviour.behaviour_features``
of a group of customers and all their lines (``cogroup``: the customers are hashed into groups
of about ``lines_per_group`` lines), so both engines compute them with the same code.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 (pyspark's own convention)

from customer_segmentation.behaviour import (
    ATTRIBUTE,
    LINE_REASONS,
    RFM_RANKS,
    BehaviourSpec,
    TransactionSchema,
    as_of_date,
    behaviour_features,
    check_line_batch,
    check_log_columns,
    customer_attributes,
    day_after,
    rfm_scores_of_ranks,
    typed_identifiers,
)
from customer_segmentation.spark import (
    SPARK_TYPES,
    as_pandas_reads,
    ddl,
    map_batches,
    with_raw_rows,
)
from customer_segmentation.validation import RAW_ROW, TYPED

logger = logging.getLogger(__name__)
CUSTOMER = "customer"  # the typed customer of a kept line (``CheckedLines.kept``)


@dataclass(frozen=True)
class SparkCheckedLines:
    """A transaction log checked on Spark (``behaviour.CheckedLines``).

    Attributes:
        kept: The kept lines, typed, in the layout of ``CheckedLines.kept``, after their
            ``raw_row``.
        rejected: Rejected lines: ``raw_row``, the log's columns as read, and ``reason``.
        lines: Lines read.
        rejected_lines: Lines rejected.
        counts: Rejected lines per rule and column: ``{rule: {column: count}}``.
    """

    kept: DataFrame
    rejected: DataFrame
    lines: int
    rejected_lines: int
    counts: dict[str, dict[str, int]]


def kept_types(schema: TransactionSchema) -> dict[str, str]:
    """The Spark type of each column of a kept line."""
    return {CUSTOMER: _customer_type(schema), "timestamp": "timestamp_ntz", "value": "double",
            "order": "string", "category": "string", "channel": "string",
            "cancelled": "boolean",
            **{ATTRIBUTE + name: "string" for name in schema.attributes}}  # fmt: skip


def _customer_type(schema: TransactionSchema) -> str:
    return "bigint" if schema.customer_dtype == "int" else "string"


def check_lines_on_spark(raw: DataFrame, schema: TransactionSchema,
                         customers: DataFrame | None) -> SparkCheckedLines:  # fmt: skip
    """``behaviour.check_lines`` on Spark: the same rules, reasons and counts.

    Args:
        raw: The log, every column as text.
        schema: Its layout.
        customers: The customer table's identifiers (one column); ``None`` without one.

    Raises:
        ValueError: A configured column is absent from the log.
    """
    started = time.perf_counter()
    check_log_columns(raw.columns, schema)
    numbered = with_raw_rows(as_pandas_reads(raw))
    layout = {TYPED + name: kind for name, kind in kept_types(schema).items()}
    output = ddl({RAW_ROW: "bigint", **dict.fromkeys(raw.columns, "string"),
                  TYPED + "reason": "string", **layout, "batch_counts": "string"})  # fmt: skip
    checked = numbered.mapInPandas(partial(_line_batches, schema=schema), output)
    column = schema.columns["customer"]
    customer = F.col(TYPED + CUSTOMER)
    repeated = F.row_number().over(
        Window.partitionBy(*[F.col(f"`{name}`") for name in raw.columns]).orderBy(RAW_ROW)) > 1
    checked = checked.withColumn("_repeated", repeated)
    unknown = F.lit(False)
    if schema.unknown_customer == "reject" and customers is not None:
        known = customers.select(F.col(customers.columns[0]).alias("_known")).distinct()
        checked = checked.join(known, customer == F.col("_known"), "left")
        unknown = customer.isNotNull() & F.col("_known").isNull()
    before, _, after = LINE_REASONS["unknown_customer"].format(
        column=column, value="{value}").partition("{value}")
    reasons = F.concat_ws(
        "; ", F.col(TYPED + "reason"),
        F.when(F.col("_repeated"), F.lit(LINE_REASONS["repeated_line"])),
        F.when(unknown, F.concat(F.lit(before), F.col(f"`{column}`"), F.lit(after))))
    checked = checked.select("*", unknown.alias("_unknown"),
                             F.when(reasons != "", reasons).alias("_reason")).persist()
    lines, rejected_lines, counts = _line_totals(checked, column)
    kept = checked.where(F.col("_reason").isNull()).select(
        RAW_ROW, *[F.col(f"`{TYPED}{name}`").alias(name) for name in kept_types(schema)])
    rejected = checked.where(F.col("_reason").isNotNull()).select(
        RAW_ROW, *[F.col(f"`{name}`") for name in raw.columns], F.col("_reason").alias("reason"))
    logger.info("Checked %d transaction lines on Spark in %.1f s", lines,
                time.perf_counter() - started)  # fmt: skip
    return SparkCheckedLines(kept, rejected, lines, rejected_lines, counts)


def _line_batches(batches: Iterator[pd.DataFrame], schema: TransactionSchema
                  ) -> Iterator[pd.DataFrame]:  # fmt: skip
    """Each batch as read, with ``check_line_batch`` of it (``typed__``-prefixed)."""
    for batch in batches:
        checked = check_line_batch(batch, schema)
        counts = checked.pop("batch_counts").to_numpy()
        yield pd.concat([batch, checked.drop(columns=RAW_ROW).add_prefix(TYPED)],
                        axis=1).assign(batch_counts=counts)  # fmt: skip


def _line_totals(checked: DataFrame, column: str
                 ) -> tuple[int, int, dict[str, dict[str, int]]]:  # fmt: skip
    """Lines, rejected lines and rejections per rule and column."""
    totals = checked.agg(
        F.count(F.lit(1)).alias("lines"),
        F.sum(F.col("_repeated").cast("int")).alias("repeated_line"),
        F.sum(F.col("_unknown").cast("int")).alias("unknown_customer"),
        F.sum(F.col("_reason").isNotNull().cast("int")).alias("rejected"),
    ).first()
    counts: dict[str, dict[str, int]] = {}
    for row in checked.where(F.col("batch_counts").isNotNull()).select("batch_counts").collect():
        for rule, columns in json.loads(row["batch_counts"]).items():
            for name, count in columns.items():
                counts.setdefault(rule, {})[name] = counts.get(rule, {}).get(name, 0) + count
    for rule in LINE_REASONS:
        if totals[rule]:
            counts[rule] = {column: int(totals[rule])}
    return int(totals["lines"]), int(totals["rejected"] or 0), counts


def typed_customers(customers_raw: DataFrame, id_column: str, dtype: str) -> DataFrame:
    """The customer table as pandas reads it, each row numbered (``raw_row``, unless it is
    already), with its identifier typed where it parses (``_typed_id``)."""
    numbered = (customers_raw if RAW_ROW in customers_raw.columns
                else with_raw_rows(as_pandas_reads(customers_raw)))  # fmt: skip
    output = ddl({**dict(numbered.dtypes), "_typed_id": "bigint" if dtype == "int" else "string"})
    return map_batches(numbered, lambda batch: batch.assign(
        _typed_id=typed_identifiers(batch[id_column], dtype)), output)


def distinct_customers(typed: DataFrame, id_column: str) -> DataFrame:
    """The distinct identifiers of a ``typed_customers`` table that parse, as ``id_column``."""
    return (typed.where(F.col("_typed_id").isNotNull())
            .select(F.col("_typed_id").alias(id_column)).distinct())  # fmt: skip


@dataclass(frozen=True)
class SparkBehaviour:
    """Each customer's behaviour features on Spark, and the day they describe.

    Attributes:
        features: The identifier, then ``TransactionSchema.feature_columns`` and attributes.
        as_of: The day described.
    """

    features: DataFrame
    as_of: pd.Timestamp


def behaviour_on_spark(
    kept: DataFrame, customers: DataFrame, schema: TransactionSchema, as_of: Any,
    window_days: float, lines_per_group: int,
) -> SparkBehaviour:  # fmt: skip
    """``behaviour.behaviour_features`` (and ``customer_attributes``) on Spark.

    The customers are hashed into groups; each group's customers and all their kept lines
    meet on one executor, where the pandas implementation describes them. The log's dates
    (its newest line, for the default ``as_of``, and its first line before it) are Spark
    aggregates, so a group's features equal the whole log's.

    Args:
        kept: Kept lines (``SparkCheckedLines.kept``).
        customers: The customers to describe (one column, the identifier).
        schema: The log's layout.
        as_of: ``behaviour.as_of``; none: the day after the newest line.
        window_days: The window of ``frequency_window``.
        lines_per_group: About how many lines one group holds (``on_spark.lines_per_group``).

    Raises:
        ValueError: No line was kept and no ``as_of`` is set.
    """
    id_column = customers.columns[0]
    newest, lines = kept.agg(F.max("timestamp"), F.count(F.lit(1))).first()
    date = as_of_date(as_of) or day_after(newest)
    end = F.lit(date.isoformat()).cast("timestamp_ntz")
    since = kept.where(F.col("timestamp") < end).agg(F.min("timestamp")).first()[0]
    since = date if since is None else pd.Timestamp(since)
    groups = max(1, math.ceil(lines / lines_per_group))
    empty = _describe(_empty({RAW_ROW: "bigint", **kept_types(schema)}),
                      pd.DataFrame({id_column: []}),
                      schema, date, window_days, since)  # fmt: skip
    output = ddl({id_column: _customer_type(schema),
                  **{name: SPARK_TYPES.get(str(dtype), "string")
                     for name, dtype in empty.dtypes.items() if name != id_column}})  # fmt: skip
    logger.info("Behaviour features as of %s: %d kept lines in %d group(s) of customers",
                date.date(), lines, groups)  # fmt: skip

    def group(key: Any) -> Any:
        return F.pmod(F.xxhash64(key), F.lit(groups))

    described = (
        kept.groupBy(group(F.col(CUSTOMER)))
        .cogroup(customers.groupBy(group(F.col(f"`{id_column}`"))))
        .applyInPandas(partial(_describe, schema=schema, as_of=date,
                               window_days=window_days, since=since), output)
    )  # fmt: skip
    return SparkBehaviour(described, date)


def _empty(types: dict[str, str]) -> pd.DataFrame:
    """No kept line, with the dtypes Spark hands over."""
    pandas = {"bigint": "int64", "double": "float64", "boolean": "bool",
              "timestamp_ntz": "datetime64[us]", "string": "str"}  # fmt: skip
    return pd.DataFrame({name: pd.Series([], dtype=pandas[kind]) for name, kind in types.items()})


def _describe(lines: pd.DataFrame, customers: pd.DataFrame, schema: TransactionSchema,
              as_of: pd.Timestamp, window_days: float, since: pd.Timestamp) -> pd.DataFrame:
    """The features of one group's customers (the first column) from their lines.

    The lines are put back in log order: each customer's sums then add the same numbers in
    the same order as the pandas path, and so are equal to the last bit.
    """
    lines = lines.sort_values(RAW_ROW, kind="stable")
    ids = customers.iloc[:, 0]
    features = behaviour_features(lines, ids, schema, as_of, window_days, since=since)
    if schema.attributes:
        features = features.join(customer_attributes(lines, ids, schema.attributes))
    return features.rename_axis(ids.name).reset_index()


def rfm_on_spark(behaviour: DataFrame, id_column: str) -> DataFrame:
    """``behaviour.rfm_scores`` on Spark: the ranks are Spark's (``rank``: ties share the
    lowest, as pandas' ``method="min"``), the scores and segments the pandas code's."""
    active = F.col("no_transactions") == 0
    count = behaviour.where(active).count()
    columns = [column for column, _ in RFM_RANKS.values()]
    ranked = behaviour.select(f"`{id_column}`", *columns, active.alias("_active"))
    for score, (column, ascending) in RFM_RANKS.items():
        order = F.col(column).asc() if ascending else F.col(column).desc()
        rank = F.rank().over(Window.partitionBy("_active").orderBy(order))
        ranked = ranked.withColumn(score, F.when(F.col("_active"), rank).cast("double"))
    ranked = ranked.select(f"`{id_column}`", *RFM_RANKS)
    output = ddl({id_column: dict(behaviour.dtypes)[id_column],
                  **dict.fromkeys(RFM_RANKS, "bigint"), "rfm_segment": "string"})  # fmt: skip
    return map_batches(ranked, lambda batch: rfm_scores_of_ranks(
        batch.set_index(id_column), count).reset_index(), output)


def join_behaviour_on_spark(typed: DataFrame, behaviour: DataFrame, id_column: str,
                            columns: Sequence[str]) -> DataFrame:  # fmt: skip
    """``behaviour.join_behaviour`` on Spark: each row of a ``typed_customers`` table with
    its customer's behaviour ``columns``, 0 where the customer has none (or the identifier
    does not parse); in the table's order, ``raw_row`` first."""
    found = behaviour.select(F.col(f"`{id_column}`").alias("_typed_id"),
                             *[F.col(f"`{name}`") for name in columns])  # fmt: skip
    kinds = dict(behaviour.dtypes)
    raw = [name for name in typed.columns if name != "_typed_id"]
    joined = typed.join(found, on="_typed_id", how="left").select(
        *[F.col(f"`{name}`") for name in raw],
        *[F.coalesce(F.col(f"`{name}`"), F.lit(0)).cast(kinds[name]).alias(name)
          if kinds[name] != "string" else F.col(f"`{name}`") for name in columns])
    return joined.orderBy(RAW_ROW)


def add_behaviour_on_spark(
    customers_raw: DataFrame, lines_raw: DataFrame, spec: BehaviourSpec, id_column: str,
    as_of: Any, lines_per_group: int,
) -> tuple[DataFrame, DataFrame, pd.Timestamp]:  # fmt: skip
    """``behaviour.add_behaviour`` on Spark: customers to score joined with the behaviour
    their lines show; lines of customers not being scored are left out, not rejected.

    Returns:
        The joined table (numbered, in order: ``spark.split_on_spark`` takes it), the lines
        rejected with their reasons, and the day described.
    """
    schema = spec.schema
    typed = typed_customers(customers_raw, id_column, schema.customer_dtype)
    checked = check_lines_on_spark(lines_raw, schema, None)
    described = behaviour_on_spark(checked.kept, distinct_customers(typed, id_column), schema,
                                   as_of, spec.window_days, lines_per_group)  # fmt: skip
    absent = [name for name in schema.attributes if name not in customers_raw.columns]
    joined = join_behaviour_on_spark(typed, described.features, id_column,
                                     [*schema.feature_columns, *absent])  # fmt: skip
    return joined, checked.rejected, described.as_of


def log_customers_as_read(lines_raw: DataFrame, column: str, id_column: str) -> DataFrame:
    """Each customer of a log as read (``column``'s text), in the order of their first line,
    as ``id_column``; ``raw_row`` is that line's."""
    numbered = with_raw_rows(as_pandas_reads(lines_raw.select(F.col(f"`{column}`"))))
    return (numbered.where(F.col(f"`{column}`").isNotNull())
            .groupBy(F.col(f"`{column}`").alias(id_column)).agg(F.min(RAW_ROW).alias(RAW_ROW))
            .orderBy(RAW_ROW).select(RAW_ROW, id_column))  # fmt: skip
