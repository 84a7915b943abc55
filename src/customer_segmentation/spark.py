"""The Spark engine: the pandas path's rules, features, K-Means and scoring on Spark DataFrames.

Two kinds of work, split where the data is:

- **Per row**, the pandas implementation runs on the executors, one Arrow batch at a time
  (``mapInPandas``): the row rules and their reasons (``validation.check_batch``), the model
  features (``FittedFeatures.frame``) and the segments (``Segmenter.assign``). One
  implementation of each, so both engines give the same reasons, numbers and segments.
- **Across rows**, Spark: each row's place in the table, unique identifiers (a window), the
  rule counts, the statistics the features are fitted to (means, deviations, exact
  percentiles, code counts), K-Means (``pyspark.ml``'s k-means||) and its scores.

What describes the segments (profiles and names, the PCA plane, the report's plots) reads a
seeded sample of ``on_spark.driver_sample_size`` rows on the driver: all of them when the
table is smaller. docs/spark.md says what holds and why.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 (pyspark's own convention)

from customer_segmentation.features import (
    FeatureSpec,
    FittedFeatures,
    centre_and_scale,
    days,
    fit_raw_numeric,
    fit_values,
    rare_codes,
)
from customer_segmentation.schema import duplicate_reason, valid_dtypes
from customer_segmentation.segments import KMeansCentres, segment_order_by_sizes
from customer_segmentation.validation import (
    DOMAIN,
    RAW_ROW,
    TYPED,
    ContentHash,
    check_batch,
    check_columns,
    log_summary,
    no_rows,
    summarise,
)

logger = logging.getLogger(__name__)
# pandas' read_csv takes these cells as missing (``keep_default_na``); Spark only the empty one.
PANDAS_MISSING = sorted(pd._libs.parsers.STR_NA_VALUES)
SPARK_TYPES = {"int8": "tinyint", "int16": "smallint", "int32": "int", "int64": "bigint",
               "float64": "double", "str": "string", "datetime64[us]": "timestamp_ntz"}  # fmt: skip


def start_session(config: dict[str, Any]) -> SparkSession:
    """The SparkSession of ``config`` (``conf/<env>/spark.yml``: ``spark.*`` keys).

    Its Python workers run this interpreter (where ``PYSPARK_PYTHON`` does not name
    another), which has this package; on a cluster the image or the wheel brings it.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Each conversion the project makes under pandas 3 is tested (tests/test_spark.py): the
    # warning pyspark gives at every pandas function would only repeat itself in the log.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    builder = SparkSession.builder.appName(config.get("spark.app.name", "customer-segmentation"))
    for key, value in config.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")  # Spark's INFO lines would drown Kedro's log
    return session


def ddl(columns: dict[str, str]) -> str:
    """A Spark schema string from column name → pandas dtype (``SPARK_TYPES``) or Spark type."""
    return ", ".join(f"`{name}` {SPARK_TYPES.get(dtype, dtype)}" for name, dtype in columns.items())


def as_pandas_reads(frame: DataFrame) -> DataFrame:
    """A raw table read by Spark as pandas reads the same file: pandas' missing-value
    spellings (``NA``, ``null``, ``n/a``, ...) are missing in text columns, not text."""
    return frame.select([
        F.when(F.col(f"`{name}`").isin(PANDAS_MISSING), None)
        .otherwise(F.col(f"`{name}`")).alias(name)
        if kind == "string" else F.col(f"`{name}`")
        for name, kind in frame.dtypes
    ])  # fmt: skip


def with_raw_rows(frame: DataFrame) -> DataFrame:
    """``raw_row`` first: each row's 0-based place in the table, in partition order.

    A file source's partitions are its byte ranges in order, so this is the row's place in
    the file, as pandas counts it. One job counts the rows of each partition.
    """
    tagged = frame.select(F.spark_partition_id().alias("_partition"),
                          F.monotonically_increasing_id().alias("_id"), "*")  # fmt: skip
    counts = dict(tagged.groupBy("_partition").count().collect())
    starts, total = {}, 0
    for partition in sorted(counts):
        starts[partition], total = total, total + counts[partition]
    start = F.create_map(*[F.lit(value) for pair in starts.items() for value in pair])
    first_id = F.col("_partition").cast("bigint") * F.lit(2**33)  # monotonically_increasing_id
    raw_row = (start[F.col("_partition")] + F.col("_id") - first_id).alias(RAW_ROW)
    return tagged.select(raw_row, *[F.col(f"`{name}`") for name in frame.columns])


@dataclass(frozen=True)
class SparkSplit:
    """A raw Spark table split by the rules (``validation.Split`` on Spark).

    Attributes:
        valid: Valid rows, typed as the pandas path types them.
        rejected: Rejected rows as read, with ``raw_row`` and ``reason``.
        summary: Rows raw / primary / rejected, rejected share, violations per rule, and
            ``raw_data_sha256`` (the pandas path's content hash, computed the same way).
    """

    valid: DataFrame
    rejected: DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def split_on_spark(raw: DataFrame, spec: FeatureSpec, source: str, scoring: bool = False,
                   derived: Iterable[str] = ()) -> SparkSplit:  # fmt: skip
    """``validation.split_chunks`` on Spark: the same rules, reasons and counts.

    Each batch is checked by ``validation.check_batch`` on the executors; repeated
    identifiers (a later row with an earlier row's typed ID) are found by a window over the
    whole table, and the reasons joined in the pandas path's order.

    Args:
        raw: The raw table, every column as text; or already numbered, in order, as
            ``spark_behaviour.join_behaviour_on_spark`` gives it (``raw_row`` first).
        spec: The feature specification.
        source: Where the table came from, named in messages.
        scoring: Keep what scoring puts the rows back together by: ``raw_row`` in the valid
            rows, and ``typed_id`` (the identifier, where it parses) in the rejected ones.
        derived: Columns the project derived and joined to the table
            (``validation.check_columns``).

    Raises:
        RawDataError: A required column is missing, or the table has no rows.
    """
    started = time.perf_counter()
    columns = [name for name in raw.columns if name != RAW_ROW]
    check_columns(pd.DataFrame(columns=columns), spec, source, derived=derived)
    numbered = raw if RAW_ROW in raw.columns else with_raw_rows(as_pandas_reads(raw))
    dtypes = valid_dtypes(spec.schema, spec.open_codes)
    schema = ddl({RAW_ROW: "bigint", **{TYPED + name: dtype for name, dtype in dtypes.items()},
                  "reason": "string",
                  "domain_reason": "string", "typed_id": dtypes[spec.id_column],
                  "shown_id": "string", "batch_counts": "string",
                  "batch_hashes": "binary"})  # fmt: skip
    checked = numbered.mapInPandas(partial(_check_batches, spec=spec), schema)
    earlier = Window.partitionBy("typed_id").orderBy(RAW_ROW)
    repeated = F.col("typed_id").isNotNull() & (F.row_number().over(earlier) > 1)
    before, _, after = duplicate_reason(spec.id_column).partition("{value}")
    repeat = F.concat(F.lit(before), F.col("shown_id"), F.lit(after))
    reason = (F.when(repeated, F.concat_ws("; ", F.col("reason"), repeat))
              .otherwise(F.coalesce(F.col("reason"), F.col("domain_reason"))))  # fmt: skip
    checked = checked.select("*", repeated.alias("_repeated"), reason.alias("_reason")).persist()
    rows, rejected_rows, counts, hashes = _totals(checked, spec.id_column)
    if rows == 0:
        checked.unpersist()
        raise no_rows(source)
    valid = checked.where(F.col("_reason").isNull()).select(
        *([RAW_ROW] if scoring else []),
        *[F.col(f"`{TYPED}{name}`").alias(name) for name in spec.schema.columns])
    reasons = checked.where(F.col("_reason").isNotNull()).select(
        RAW_ROW, F.col("_reason").alias("reason"), *(["typed_id"] if scoring else []))
    rejected = numbered.join(reasons, on=RAW_ROW)  # the rejected rows as read
    content = ContentHash()
    for _, batch_hashes in hashes:
        content.add_hashes(columns, batch_hashes)
    summary = {**summarise(source, rows, rows - rejected_rows, counts),
               "raw_data_sha256": content.hexdigest()}
    log_summary(summary)
    logger.info("Checked %d rows of %s on Spark in %.1f s", rows, source,
                time.perf_counter() - started)  # fmt: skip
    return SparkSplit(valid, rejected, summary)


def _check_batches(batches: Iterator[pd.DataFrame], spec: FeatureSpec) -> Iterator[pd.DataFrame]:
    for batch in batches:
        yield check_batch(batch, spec)


def _totals(checked: DataFrame, id_column: str
            ) -> tuple[int, int, dict[str, dict[str, int]], list[tuple[int, bytes]]]:  # fmt: skip
    """Rows, rejected rows, violations per rule and column, and each batch's row hashes in
    table order."""
    domain = F.col("domain_reason").isNotNull() & F.col("reason").isNull() & ~F.col("_repeated")
    totals = checked.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("_repeated").cast("int")).alias("repeated"),
        F.sum(domain.cast("int")).alias("domain"),
        F.sum(F.col("_reason").isNotNull().cast("int")).alias("rejected"),
    ).first()
    batches = (checked.where(F.col("batch_counts").isNotNull())
               .select(RAW_ROW, "batch_counts", "batch_hashes").collect())  # fmt: skip
    counts: dict[str, dict[str, int]] = {}
    for batch in batches:
        for rule, columns in json.loads(batch["batch_counts"]).items():
            for column, count in columns.items():
                counts.setdefault(rule, {})[column] = counts.get(rule, {}).get(column, 0) + count
    if totals["repeated"]:
        counts.setdefault("duplicate_id", {})[id_column] = int(totals["repeated"])
    if totals["domain"]:
        counts[DOMAIN] = {"features": int(totals["domain"])}
    hashes = sorted((batch[RAW_ROW], bytes(batch["batch_hashes"])) for batch in batches)
    return int(totals["rows"]), int(totals["rejected"] or 0), counts, hashes


def map_batches(frame: DataFrame, function: Callable[[pd.DataFrame], pd.DataFrame],
                schema: str) -> DataFrame:  # fmt: skip
    """``function`` of each Arrow batch of ``frame``, on the executors."""

    def batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in frames:
            yield function(batch)

    return frame.mapInPandas(batches, schema)


def fit_features_on_spark(customers: DataFrame, spec: FeatureSpec) -> FittedFeatures:
    """``features.fit_features`` on Spark: the same centres, scales, bounds and rare codes.

    The values each statistic is taken of are computed per batch by the pandas path's own
    functions; the statistics are Spark aggregates (means and population deviations, exact
    percentiles with linear interpolation as NumPy's, minima and maxima, code counts).
    """
    as_of = spec.as_of
    if as_of is None and spec.dates:
        newest = customers.agg(*[F.max(F.col(f"`{name}`")) for name in sorted(spec.dates)]).first()
        as_of = float(np.nanmax(days([value for value in newest if value is not None] or [None])))
    bounds = None
    if spec.clips:
        names = [f"v{i}" for i in range(len(spec.numeric))]
        raw = _values(customers, lambda batch: fit_raw_numeric(batch, spec, as_of), names)
        bounds = np.array([[-np.inf] * len(names), [np.inf] * len(names)])
        for column, quantiles in enumerate(spec.clips):
            if quantiles is not None:
                bounds[:, column] = _exact_percentiles(raw, names[column], list(quantiles))
    names = [f"v{i}" for i in range(len(spec.numeric) + len(spec.ordinal))]
    values = _values(customers, lambda batch: fit_values(
        batch, spec, fit_raw_numeric(batch, spec, as_of), bounds), names)
    centres, scales = _centre_and_scale(values, names, spec.scaler)
    binary = len(spec.binary)
    counts = [_code_counts(customers, name, spec.codes(name)) for name in spec.nominal]
    rows = customers.count() if spec.min_shares else 0
    return FittedFeatures(spec, np.append(centres, np.zeros(binary)),
                          np.append(scales, np.ones(binary)), bounds, as_of,
                          rare_codes(spec, counts, rows))  # fmt: skip


def _values(frame: DataFrame, function: Callable[[pd.DataFrame], np.ndarray],
            names: list[str]) -> DataFrame:  # fmt: skip
    """The float columns ``function`` computes of each batch; NaN as Spark's null."""

    def batch_values(batch: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(function(batch), columns=names)

    frame = map_batches(frame, batch_values, ddl(dict.fromkeys(names, "double")))
    return frame.select([F.nanvl(F.col(name), F.lit(None)).alias(name) for name in names])


def _exact_percentiles(values: DataFrame, name: str, quantiles: list[float]) -> list[float]:
    found = values.agg(F.percentile(F.col(name), F.array(*map(F.lit, quantiles)))).first()[0]
    return [np.nan if value is None else float(value) for value in (found or [None] * 2)]


def _centre_and_scale(values: DataFrame, names: list[str], scaler: str) -> tuple[np.ndarray, ...]:
    """``features._centre_and_scale`` of Spark columns (null: a sentinel, left out)."""
    if not names:
        return np.zeros(0), np.ones(0)
    if scaler == "standard":
        aggregates = [F.avg(name) for name in names] + [F.stddev_pop(name) for name in names]
    elif scaler == "minmax":
        aggregates = [F.min(name) for name in names] + [F.max(name) for name in names]
    else:
        aggregates = [F.percentile(name, F.array(*map(F.lit, (0.25, 0.5, 0.75))))
                      for name in names]  # fmt: skip
    row = values.agg(*aggregates).first()
    if scaler == "robust":
        low, centre, high = (np.array([np.nan if q is None else q[i] for q in row], float)
                             for i in range(3))  # fmt: skip
        return centre_and_scale(centre, high - low)
    first = np.array([np.nan if v is None else v for v in row[: len(names)]], float)
    second = np.array([np.nan if v is None else v for v in row[len(names):]], float)
    return centre_and_scale(first, second - first if scaler == "minmax" else second)


def _code_counts(frame: DataFrame, name: str, codes: tuple[Any, ...]) -> np.ndarray:
    """Rows with each legend code of a column."""
    found = dict(frame.groupBy(F.col(f"`{name}`")).count().collect())
    return np.array([found.get(code, 0) for code in codes], dtype=np.int64)


def model_input_on_spark(customers: DataFrame, features: FittedFeatures) -> DataFrame:
    """``model_input`` on Spark: ``FittedFeatures.frame`` of each batch."""
    spec = features.spec
    schema = ddl({spec.id_column: _id_type(spec),
                  **dict.fromkeys(spec.output_columns, "double")})  # fmt: skip
    return map_batches(customers, features.frame, schema)


def _id_type(spec: FeatureSpec) -> str:
    """The identifier's dtype in valid rows."""
    return valid_dtypes(spec.schema, spec.open_codes)[spec.id_column]


def kprototypes_input_on_spark(customers: DataFrame, features: FittedFeatures) -> DataFrame:
    """``kprototypes_input`` on Spark: ``FittedFeatures.mixed_frame`` of each batch."""
    spec = features.spec
    numeric = [*spec.numeric, *(flag for *_, flag in spec.flags)]
    schema = ddl({spec.id_column: _id_type(spec), **dict.fromkeys(numeric, "double"),
                  **dict.fromkeys(spec.categorical, "bigint")})  # fmt: skip
    return map_batches(customers, features.mixed_frame, schema)


def segment_sizes(segments: DataFrame, k: int) -> np.ndarray:
    """Customers per segment of a ``segment`` column, ``(k,)``."""
    counts = dict(segments.groupBy("segment").count().collect())
    return np.array([counts.get(segment, 0) for segment in range(k)], dtype=np.int64)


def sampled_rows(frame: DataFrame, size: int | None, seed: int) -> DataFrame:
    """Every row when there are at most ``size`` (or no size), else a seeded sample of
    about ``size`` of them, staying on Spark."""
    rows = frame.count() if size is not None else 0
    if size is None or rows <= size:
        return frame
    return frame.sample(fraction=min(1.0, 1.1 * size / rows), seed=seed).limit(size)


def seeded_sample(frame: DataFrame, size: int, seed: int) -> pd.DataFrame:
    """``sampled_rows`` as pandas, on the driver."""
    return sampled_rows(frame, size, seed).toPandas()


def feature_vectors(model_input: DataFrame, id_column: str) -> DataFrame:
    """``model_input`` as pyspark.ml's one vector column, ``features``."""
    from pyspark.ml.feature import VectorAssembler

    columns = [name for name in model_input.columns if name != id_column]
    return VectorAssembler(inputCols=columns, outputCol="features").transform(model_input)


def fit_kmeans(
    vectors: DataFrame, k: int, kmeans: dict[str, Any], n_init: int, parallelism: int = 1
) -> KMeansCentres:
    """The best of ``n_init`` seeded k-means|| fits (pyspark.ml), its segments ordered by
    ``segments.segment_order``; ``parallelism`` of the fits run at once (``in_parallel``),
    with the result of running them one after another (the first of equal costs)."""
    from pyspark.ml.clustering import KMeans

    def fit(run: int) -> tuple[float, int, Any]:
        model = KMeans(k=k, seed=kmeans["random_state"] + run, maxIter=kmeans["max_iter"],
                       tol=1e-6, featuresCol="features").fit(vectors)  # fmt: skip
        return model.summary.trainingCost, run, model

    cost, _, model = min(in_parallel(vectors.sparkSession, fit, range(n_init), parallelism),
                         key=lambda fitted: fitted[:2])  # fmt: skip
    centres = np.array(model.clusterCenters())
    sizes = np.array(model.summary.clusterSizes)
    order = segment_order_by_sizes(sizes, centres)
    return KMeansCentres(centres[order], float(cost), tuple(int(size) for size in sizes[order]))


def in_parallel(
    session: SparkSession, function: Callable[[Any], Any], items: Sequence[Any], parallelism: int
) -> Iterator[Any]:
    """``map(function, items)`` in ``parallelism`` driver threads, results in item order
    (in this thread when ``parallelism`` is 1).

    Spark runs the jobs of the threads at once, as pyspark.ml's ``CrossValidator`` does for
    its fits: an iteration of k-means|| is a Spark job whose scheduling, more than its
    arithmetic, takes the time on a table of a few hundred thousand rows, so concurrent fits
    fill each other's gaps. The threads inherit the session's local properties and tags.
    """
    if parallelism <= 1:
        yield from map(function, items)
        return
    from pyspark.util import inheritable_thread_target

    target = inheritable_thread_target(session)(function)
    with ThreadPoolExecutor(max(1, min(parallelism, len(items)))) as pool:
        yield from pool.map(target, items)


def assign_on_spark(model_input: DataFrame, model: Any, id_column: str) -> DataFrame:
    """``id_column`` and ``segment`` of each row, on the executors: ``model.predict`` of
    its features (the nearest K-Means centre, or K-Prototypes prototype)."""
    id_type = dict(model_input.dtypes)[id_column]

    def segments(batch: pd.DataFrame) -> pd.DataFrame:
        features = batch.drop(columns=id_column).to_numpy(dtype=np.float64)
        return pd.DataFrame({id_column: batch[id_column].to_numpy(),
                             "segment": model.predict(features)})  # fmt: skip

    return map_batches(model_input, segments, f"`{id_column}` {id_type}, segment int")


def assign_segments_on_spark(valid: DataFrame, segmenter: Any) -> DataFrame:
    """``Segmenter.assign`` of valid, typed rows on the executors: identifier, segment and
    segment name (and ``raw_row`` where the rows have it)."""
    spec = segmenter.spec
    rows = {RAW_ROW: "bigint"} if RAW_ROW in valid.columns else {}
    schema = ddl({**rows, spec.id_column: _id_type(spec), "segment": "int",
                  "segment_name": "string"})  # fmt: skip

    def assign(batch: pd.DataFrame) -> pd.DataFrame:
        assigned = segmenter.assign(batch)
        if rows:
            assigned.insert(0, RAW_ROW, batch[RAW_ROW].to_numpy())
        return assigned

    return map_batches(valid, assign, schema)


def scores_on_spark(split: SparkSplit, segmenter: Any) -> DataFrame:
    """``segmenter.combine_scores`` on Spark: every row in input order, with its segment and
    name or its reason.

    A rejected row keeps its identifier typed where it parses; where one does not, the
    identifier column is text for every row, as the pandas path makes it.
    """
    spec = segmenter.spec
    id_column = spec.id_column
    scored = assign_segments_on_spark(split.valid, segmenter)
    rejected = split.rejected
    raw_ids = id_column in rejected.columns
    text = raw_ids and not rejected.where(F.col("typed_id").isNull()
                                          & F.col(f"`{id_column}`").isNotNull()).isEmpty()
    ids = F.col(f"`{id_column}`") if text else F.col("typed_id")
    bad = rejected.select(RAW_ROW, ids.alias(id_column), F.lit(None).cast("int").alias("segment"),
                          F.lit(None).cast("string").alias("segment_name"), "reason")
    good = scored.select(RAW_ROW, F.col(f"`{id_column}`").cast("string" if text else
                                                               dict(scored.dtypes)[id_column]),
                         "segment", "segment_name", F.lit(None).cast("string").alias("reason"))
    return good.unionByName(bad).orderBy(RAW_ROW).drop(RAW_ROW)
