"""Checking a raw customer table: whole-file problems stop, bad rows are set aside.

One implementation for training (``data_processing``), batch scoring, the MLflow model and
the API's CSV upload, so that each gives the same message for the same problem.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.features import FeatureSpec
from customer_segmentation.schema import (
    EarlierIdentifiers,
    RawDataError,
    RowCheck,
    cast_valid_rows,
    check_rows,
    flag_duplicates,
    show_values,
    valid_dtypes,
)
from customer_segmentation.threads import CORES, in_order_on_threads

logger = logging.getLogger(__name__)
DOMAIN = "outside_domain"  # rule name of a value its feature transform cannot take
RAW_ROW = "raw_row"  # 0-based data row of a raw table, in rejected rows
TYPED = "typed__"  # ``check_batch``: the prefix of each column's typed, valid value
# Chunks checked at once: check_rows spends its time in Arrow's casts and NumPy's comparisons
# (1.8 times as fast on two cores). Up to 4: beyond, the reading and the ordered steps in the
# calling thread are the bound, and each thread holds a chunk.
CHECK_THREADS = min(4, CORES)


@dataclass(frozen=True)
class Split:
    """Raw rows split by the rules.

    Attributes:
        valid: Rows that passed, with the schema's columns and dtypes, index reset.
        rejected: Rows that failed, as read, with ``raw_row`` (0-based data row) and ``reason``.
        summary: Rows raw / primary / rejected, rejected share and violations per rule.
    """

    valid: pd.DataFrame
    rejected: pd.DataFrame
    summary: dict[str, Any]


def split_rows(raw: pd.DataFrame, spec: FeatureSpec, source: str) -> Split:
    """Check the table, then every row: the schema's rules and each feature's transform domain.

    Args:
        raw: The raw customer table, as read.
        spec: The feature specification (its raw schema and transforms).
        source: Where the table came from, named in messages.

    Returns:
        Valid rows, rejected rows with their reasons, and the summary.

    Raises:
        RawDataError: A required column is missing, or the table has no rows.
    """
    return split_chunks(raw, spec, source)


def split_chunks(
    chunks: pd.DataFrame | Iterable[pd.DataFrame], spec: FeatureSpec, source: str,
    derived: Iterable[str] = (),
) -> Split:
    """``split_rows`` of a table read in chunks (pandas' ``chunksize``).

    The same rules and reasons as one whole table, and ``raw_row`` counts rows from the start
    of the table. Chunks are checked on ``CHECK_THREADS`` threads, then, in the table's order,
    for repeated identifiers. Memory holds the valid rows, typed, and a chunk as read per
    thread: never the whole table as text.

    Args:
        chunks: The raw table's consecutive row chunks, as read (or the whole table).
        spec: The feature specification (its raw schema and transforms).
        source: Where the table came from, named in messages.
        derived: Columns the project derived and joined to the table (``check_columns``).

    Returns:
        Valid rows, rejected rows with their reasons, and the summary.

    Raises:
        RawDataError: A required column is missing, or the table has no rows.
    """
    earlier = EarlierIdentifiers()
    valid: dict[str, list[np.ndarray]] = {name: [] for name in spec.schema.columns}
    rejected: list[pd.DataFrame] = []
    counts: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    numbered = _numbered(as_chunks(chunks), spec, source, tuple(derived))
    check_chunk = partial(_check, spec=spec)
    checked = (
        ((chunk, check_chunk(chunk)) for chunk in numbered) if isinstance(chunks, pd.DataFrame)
        else in_order_on_threads(check_chunk, numbered, CHECK_THREADS)
    )  # fmt: skip
    rows = 0
    for number, (chunk, check) in enumerate(checked):
        rows += len(chunk)
        chunk_valid, chunk_rejected = _split_chunk(chunk, check, spec, earlier, counts)
        for name, column in chunk_valid.items():  # own copies: the chunk is freed at once
            valid[name].append(column.to_numpy(copy=True) if column.dtype.kind in "if" else column)
        rejected.append(chunk_rejected)
        if number:
            logger.info("Checked %d rows of %s in %.0f s; reading on", rows, source,
                        time.perf_counter() - started)  # fmt: skip
    del earlier  # its memory goes before the columns are joined
    if rows == 0:
        raise no_rows(source)
    valid_frame = pd.DataFrame(
        {name: _joined(parts) for name, parts in valid.items()}, copy=False
    )  # fmt: skip
    rejected_frame = pd.concat(rejected, ignore_index=True) if len(rejected) > 1 else rejected[0]
    summary = summarise(source, rows, len(valid_frame), counts)
    log_summary(summary)
    return Split(valid_frame, rejected_frame, summary)


def as_chunks(table: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    """A raw table as its row chunks: a whole DataFrame is one chunk."""
    return [table] if isinstance(table, pd.DataFrame) else table


def whole_table(table: pd.DataFrame | Iterable[pd.DataFrame]) -> pd.DataFrame:
    """A raw table read in chunks as one DataFrame (a whole DataFrame as it is, uncopied)."""
    if isinstance(table, pd.DataFrame):
        return table
    return pd.concat(list(table), ignore_index=True)


def _numbered(chunks: Iterable[pd.DataFrame], spec: FeatureSpec, source: str,
              derived: tuple[str, ...]) -> Iterator[pd.DataFrame]:  # fmt: skip
    """The chunks indexed by their rows' places in the table (and identified by them, where
    the table has no identifier); the first one's columns checked."""
    rows = 0
    for number, chunk in enumerate(chunks):
        if number == 0:
            check_columns(chunk, spec, source, derived=derived)
        chunk = chunk.set_axis(pd.RangeIndex(rows, rows + len(chunk)))
        if spec.schema.positional_id:  # the identifier is the row's position in the table
            chunk = chunk.assign(**{spec.id_column: chunk.index.to_numpy()})
        rows += len(chunk)
        yield chunk


def _check(chunk: pd.DataFrame, spec: FeatureSpec) -> RowCheck:
    """Every rule of ``check_rows`` but unique identifiers, which need the table's order."""
    return check_rows(chunk, spec.schema, open_codes=spec.open_codes, duplicates=False)


def _split_chunk(
    chunk: pd.DataFrame, check: RowCheck, spec: FeatureSpec, earlier: EarlierIdentifiers,
    counts: dict[str, dict[str, int]],
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Valid rows (typed) and rejected rows (as read, ``raw_row`` and ``reason``) of a chunk,
    from its ``_check`` and the identifiers of the chunks before it."""
    check = flag_duplicates(check, spec.id_column, earlier)
    reasons, found, valid_mask = check.reasons, dict(check.counts), check.valid
    outside = spec.domain_reasons(check.typed[valid_mask])
    if len(outside):
        reasons = pd.concat([reasons, outside.rename("reason")])
        reasons = reasons.reindex(chunk.index[chunk.index.isin(reasons.index)])
        found[DOMAIN] = {"features": len(outside)}
        valid_mask = ~chunk.index.isin(reasons.index)
    for rule, columns in found.items():
        for column, count in columns.items():
            counts.setdefault(rule, {})[column] = counts.get(rule, {}).get(column, 0) + count
    valid = cast_valid_rows(check.typed[valid_mask], spec.schema, spec.open_codes).reset_index(
        drop=True
    )  # fmt: skip
    rejected = chunk[~valid_mask].rename_axis("raw_row").reset_index()
    rejected["reason"] = pd.Series(reasons.to_numpy(), index=rejected.index, dtype="str")
    return valid, rejected


class ContentHash:
    """SHA-256 of a table's column names and cell values, whatever its storage or chunking."""

    def __init__(self) -> None:
        self._digest: Any = None

    def update(self, chunk: pd.DataFrame) -> None:
        """Add the next rows (the first chunk also gives the column names)."""
        self.add_hashes(chunk.columns, row_hashes(chunk))

    def add_hashes(self, columns: Iterable[Any], hashes: bytes) -> None:
        """Add the next rows by their ``row_hashes`` (hashed where they were read)."""
        if self._digest is None:
            self._digest = hashlib.sha256("\x1f".join(map(str, columns)).encode())
        self._digest.update(hashes)

    def passing(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """The chunks, unchanged, each added to the hash as it goes by."""
        for chunk in chunks:
            self.update(chunk)
            yield chunk

    def hexdigest(self) -> str:
        """The hash so far."""
        return self._digest.hexdigest() if self._digest is not None else ""



def row_hashes(chunk: pd.DataFrame) -> bytes:
    """Each row's 64-bit hash of its cell values, as bytes: what ``ContentHash`` adds."""
    return pd.util.hash_pandas_object(chunk, index=False).to_numpy().tobytes()


def check_batch(raw: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """One batch of a table checked by every rule but unique identifiers, which the caller
    checks across the whole table (``spark.split_on_spark``: the batches of a partition).

    The rules and reasons are ``split_chunks``' own (``schema.check_rows``, then each
    feature transform's domain), so both paths reject the same rows for the same reasons.

    Args:
        raw: ``raw_row`` (the row's place in the whole table), then the raw columns as read.
        spec: The feature specification.

    Returns:
        Per row: ``raw_row``; ``typed__<column>``, each column's valid value (missing where
        the row breaks a rule); ``reason`` (the rules broken), ``domain_reason`` (of a row
        that breaks none); ``typed_id`` and ``shown_id``, the identifier typed (where it
        parses) and as a reason shows it; on the batch's first row only, ``batch_counts``
        (rule → column → rows, JSON) and ``batch_hashes`` (``ContentHash``'s row hashes).
    """
    table = raw.drop(columns=RAW_ROW)
    hashes = row_hashes(table)
    if spec.schema.positional_id:
        table = table.assign(**{spec.id_column: raw[RAW_ROW].to_numpy()})
    check = check_rows(table, spec.schema, open_codes=spec.open_codes, duplicates=False)
    passed = check.typed[check.valid]
    domain = spec.domain_reasons(passed)
    dtypes = {name: _nullable(dtype)
              for name, dtype in valid_dtypes(spec.schema, spec.open_codes).items()}  # fmt: skip
    typed = cast_valid_rows(passed, spec.schema, spec.open_codes).astype(dtypes)
    ids = check.typed[spec.id_column]
    output = pd.DataFrame({RAW_ROW: raw[RAW_ROW].to_numpy()}, index=table.index)
    for name in spec.schema.columns:
        output[TYPED + name] = typed[name].reindex(table.index)
    output["reason"] = check.reasons.reindex(table.index)
    output["domain_reason"] = domain.reindex(table.index)
    output["typed_id"] = ids.astype(dtypes[spec.id_column])
    output["shown_id"] = show_values(ids).where(ids.notna())
    output["batch_counts"] = None
    output["batch_hashes"] = None
    if len(output):
        output.iloc[0, -2:] = [json.dumps(check.counts), hashes]
    return output


def _nullable(dtype: str) -> str:
    """The pandas dtype that holds ``dtype``'s values and missing ones (``Int8`` for int8)."""
    return dtype.capitalize() if dtype.startswith("int") else dtype


def check_columns(raw: pd.DataFrame, spec: FeatureSpec, source: str,
                  joined: Iterable[str] = (), derived: Iterable[str] = ()) -> None:  # fmt: skip
    """Stop on a table that lacks a required column: a whole-file problem.

    Args:
        raw: The table, or its first chunk, as read.
        spec: The feature specification (its raw schema).
        source: Where the table came from, named in the message.
        joined: Columns joined to the table later (behaviour), not required in it.
        derived: Columns the project derived and joined to it (the behaviour features a run
            does not segment on): expected, so not among the columns it warns are ignored.

    Raises:
        RawDataError: A column is missing, or a positional identifier's name is taken.
    """
    missing = [name for name in spec.schema.missing_columns(raw) if name not in set(joined)]
    if missing:
        raise RawDataError(
            f"Raw file {source!r} lacks required column(s) {', '.join(map(repr, missing))}: "
            f"raw_schema expects {', '.join(map(repr, spec.schema.raw_columns))}; "
            f"the file has {', '.join(map(repr, raw.columns))}."
        )
    if spec.schema.positional_id and spec.id_column in raw.columns:
        raise RawDataError(
            f"Raw file {source!r} has a column {spec.id_column!r}, the name raw_schema gives "
            "each row's position when it has no id_column: declare that column as the "
            "id_column, or rename it."
        )
    expected = {*spec.schema.columns, *derived}
    extra = [column for column in raw.columns if column not in expected]
    if extra:
        logger.warning("Ignoring columns not in raw_schema: %s", ", ".join(map(str, extra)))


def no_rows(source: str) -> RawDataError:
    """The error of a table with a header and no rows."""
    return RawDataError(f"Raw file {source!r} has a header but no data rows.")


def _joined(parts: list[Any]) -> Any:
    """One column from its chunks' parts; emptied as it goes, so one column is held twice."""
    if len(parts) == 1:
        return parts.pop()
    joined = (
        np.concatenate(parts) if isinstance(parts[0], np.ndarray)
        else pd.concat(parts, ignore_index=True)
    )  # fmt: skip
    parts.clear()
    return joined


def summarise(
    source: str, rows_raw: int, rows_primary: int, counts: dict[str, dict[str, int]]
) -> dict[str, Any]:
    rows_rejected = rows_raw - rows_primary
    return {
        "raw_data_path": str(source),
        "rows_raw": rows_raw,
        "rows_primary": rows_primary,
        "rows_rejected": rows_rejected,
        "rejected_share": rows_rejected / rows_raw,
        "violations": counts,
    }


def log_summary(summary: dict[str, Any]) -> None:
    logger.info(
        "Data quality of %s: %d raw rows = %d primary + %d rejected (%.2f%%)",
        summary["raw_data_path"], summary["rows_raw"], summary["rows_primary"],
        summary["rows_rejected"], 100 * summary["rejected_share"],
    )  # fmt: skip
    for rule, columns in summary["violations"].items():
        logger.info("  %s: %s", rule, ", ".join(f"{c} {n}" for c, n in columns.items()))
