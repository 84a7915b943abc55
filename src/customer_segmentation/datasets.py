"""The project's own catalog and datasets: whole files, the served artifact's versions, and
raw files' read errors.

``AtomicDataCatalog`` (``DATA_CATALOG_CLASS`` in ``settings.py``) writes every local,
unversioned file a run saves beside its target first and renames it over the target when
the save has succeeded: a reader (a notebook, the report, the next pipeline) sees the old
file or the new one, never half of one, and a run that fails or is killed while saving
leaves the previous file as it was. Versioned datasets write a new version each time, so
they need no rename.

``CompletedRunPickleDataset`` is a versioned dataset whose new version counts only once the
run that wrote it completed.

Kedro versions each dataset on its own, and loads the newest version it finds. For the one
artifact that is served (``segmenter``) that is not enough: a run that fails or is killed
after writing it would change what the API and batch scoring serve. So a version is written
with an ``_INCOMPLETE`` marker beside it, loads skip marked versions (except in the run that
wrote it, whose later nodes read it), and ``RunCompletionHook`` removes the marker when the
whole run has succeeded. A killed run leaves its marker, and its version is never served.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
from kedro.io import AbstractDataset, DataCatalog, DatasetError
from kedro_datasets._typing import TablePreview
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pickle import PickleDataset
from pandas._libs.parsers import STR_NA_VALUES
from pyarrow import csv as pa_csv

from customer_segmentation.schema import RawDataError

logger = logging.getLogger(__name__)
INCOMPLETE = "_INCOMPLETE"
CHUNK_ROWS = 250_000  # rows of a raw file read and checked at a time
CSV_FORMAT = (  # the load_args of a raw CSV that say how it is written, not how to read it
    "sep", "delimiter", "encoding", "decimal", "thousands", "quotechar", "quoting",
    "escapechar", "doublequote", "skipinitialspace", "comment", "na_values", "keep_default_na",
)  # fmt: skip


def csv_format(load_args: dict[str, Any]) -> dict[str, Any]:
    """The ``CSV_FORMAT`` keys of a raw CSV's ``load_args``: what a reader of another copy of
    the same kind of file (an upload to ``POST /predict/csv``) must use too."""
    return {key: value for key, value in load_args.items() if key in CSV_FORMAT}


def read_text_csv(source: Any, csv_format: dict[str, Any], **load_args: Any) -> Any:
    """``pandas.read_csv`` of every column as text, numbers rewritten with a ``.`` decimal mark.

    pandas applies ``decimal`` and ``thousands`` only to the columns it parses as numbers;
    raw files are read as text and typed by the schema, so a number written ``1.234,5`` is
    rewritten ``1234.5`` here, for the schema to parse. Returns a DataFrame, or an iterator
    of them with ``chunksize``.
    """
    marks, options = number_marks(csv_format)
    table = pd.read_csv(source, **{"dtype": str, **options, **load_args})
    if isinstance(table, pd.DataFrame):
        return written_numbers(table, **marks)
    return (written_numbers(chunk, **marks) for chunk in table)


def number_marks(load_args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``decimal`` and ``thousands`` of ``load_args``, and the other arguments."""
    marks = {key: load_args[key] for key in ("decimal", "thousands") if key in load_args}
    return marks, {key: value for key, value in load_args.items() if key not in marks}


def written_numbers(
    frame: pd.DataFrame, decimal: str = ".", thousands: str | None = None
) -> pd.DataFrame:
    """Text cells that are numbers written with ``decimal`` (and ``thousands``) marks, as
    Python writes them; every other cell as it is."""
    if decimal == "." and not thousands:
        return frame
    digits = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+" if thousands else r"\d+"
    number = rf"\s*[+-]?(?:{digits})(?:{re.escape(decimal)}\d*)?\s*"
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_string_dtype(values):
            continue
        written = values.str.fullmatch(number).fillna(False).astype(bool)
        if written.any():
            fixed = values.str.replace(thousands, "", regex=False) if thousands else values
            frame[column] = fixed.str.replace(decimal, ".", regex=False).where(written, values)
    return frame


ARROW_READABLE = frozenset({  # load_args with which pyarrow reads a raw CSV as pandas does
    "dtype", "chunksize", "sep", "delimiter", "encoding", "quotechar", "doublequote",
    "escapechar", "na_values", "keep_default_na",
})  # fmt: skip
TEXT = pd.StringDtype("pyarrow", na_value=float("nan"))  # what read_csv(dtype=str) gives


class _NotAsPandasReads(Exception):
    """pyarrow read other columns than pandas' header: pandas reads the file."""


ARROW_STOPS = (pa.ArrowException, ValueError, _NotAsPandasReads)  # where pandas reads on


def arrow_csv_options(load_args: dict[str, Any]) -> dict[str, Any] | None:
    """``pyarrow.csv`` options that read a CSV as ``pandas.read_csv(**load_args)`` reads it as
    text, or None where they cannot (a regular expression separator, ``quoting``, missing
    values by column, ...: pandas reads those files)."""
    chunk_rows = load_args.get("chunksize")
    if set(load_args) - ARROW_READABLE or load_args.get("dtype", str) is not str or not (
        chunk_rows is None or (isinstance(chunk_rows, int) and chunk_rows >= 1)
    ):  # fmt: skip
        return None  # pandas reads it, or says what is wrong (``chunksize: 0``)
    separator = load_args.get("sep", load_args.get("delimiter", ","))
    quote, escape = load_args.get("quotechar", '"'), load_args.get("escapechar")
    na_values = load_args.get("na_values")
    if isinstance(na_values, str):
        na_values = [na_values]
    if not all(isinstance(mark, str) and len(mark) == 1 for mark in (separator, quote)) or (
        escape is not None and not (isinstance(escape, str) and len(escape) == 1)
    ) or not isinstance(na_values, list | tuple | type(None)):  # fmt: skip
        return None
    missing = {str(value) for value in na_values or ()}
    if load_args.get("keep_default_na", True):
        missing |= STR_NA_VALUES
    encoding = codecs.lookup(load_args.get("encoding") or "utf-8").name
    return {
        "read_options": {"encoding": "utf8" if encoding == "utf-8" else encoding,
                         "autogenerate_column_names": True},  # fmt: skip
        "parse_options": {"delimiter": separator, "quote_char": quote,
                          "escape_char": escape or False,
                          "double_quote": bool(load_args.get("doublequote", True)),
                          "newlines_in_values": True, "ignore_empty_lines": True},  # fmt: skip
        "convert_options": {"null_values": sorted(missing), "strings_can_be_null": True,
                            "quoted_strings_can_be_null": True},  # fmt: skip
    }


def _typed(options: dict[str, Any], header: pd.Index) -> dict[str, Any]:
    """pyarrow's options with every one of the header's columns read as text."""
    columns = {f"f{number}": pa.string() for number in range(len(header))}
    return {
        "read_options": pa_csv.ReadOptions(**options["read_options"]),
        "parse_options": pa_csv.ParseOptions(**options["parse_options"]),
        "convert_options": pa_csv.ConvertOptions(**options["convert_options"],
                                                 column_types=columns),  # fmt: skip
    }


def _regrouped(batches: pa_csv.CSVStreamingReader, rows: int) -> Iterator[pa.Table]:
    """pyarrow's batches (its header row first) as tables of ``rows`` rows, as pandas'
    ``chunksize`` gives them; one empty table for a file with a header only."""
    held: list[pa.RecordBatch] = []
    count, given, header = 0, False, True
    for batch in batches:
        if header:
            batch, header = batch.slice(1), False
        held.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(held)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            held, count, given = rest.to_batches(), rest.num_rows, True
    if count or not given:
        yield pa.Table.from_batches(held, schema=batches.schema)


def _arrow_frame(table: pa.Table, header: pd.Index, first_row: int) -> pd.DataFrame:
    """A pyarrow table as pandas' ``read_csv(dtype=str)`` gives it: the header's names (pandas
    makes repeated names unique), text columns, rows numbered from ``first_row``."""
    if table.num_columns != len(header) or any(
        column != pa.string() for column in table.schema.types
    ):  # fmt: skip
        raise _NotAsPandasReads(f"{table.num_columns} columns, the header has {len(header)}")
    frame = table.to_pandas(types_mapper={pa.string(): TEXT}.get)
    frame.columns = header
    frame.index = pd.RangeIndex(first_row, first_row + len(frame))
    return frame


def _rows_from(chunks: Iterable[pd.DataFrame], first_row: int) -> Iterator[pd.DataFrame]:
    """The rows of ``chunks`` from row ``first_row`` on."""
    skip = first_row
    for chunk in chunks:
        if skip and skip >= len(chunk):
            skip -= len(chunk)
            continue
        yield chunk.iloc[skip:]
        skip = 0


class AtomicDataCatalog(DataCatalog):
    """``DataCatalog`` whose saves replace local, unversioned files whole (a rename)."""

    def save(self, ds_name: str, data: Any) -> None:
        with _written_beside(self[ds_name]):
            super().save(ds_name, data)


@contextlib.contextmanager
def _written_beside(dataset: AbstractDataset) -> Iterator[None]:
    """Point a local file dataset at a private sibling folder; rename the file in on success.

    The file keeps its name in that folder, so a wrapper that logs the written file (an
    ``MlflowArtifactDataset``) logs it under its own name.
    """
    target = getattr(dataset, "_filepath", None)
    local = getattr(dataset, "_protocol", None) == "file"
    if target is None or not local or getattr(dataset, "_version", None) is not None:
        yield
        return
    folder = Path(target).parent / f".{target.name}.{os.getpid()}.partial"
    folder.mkdir(parents=True, exist_ok=True)
    dataset._filepath = PurePosixPath(folder.as_posix()) / target.name
    try:
        yield
        os.replace(folder / target.name, Path(target))
    finally:
        dataset._filepath = target
        shutil.rmtree(folder, ignore_errors=True)


class CompletedRunPickleDataset(PickleDataset):
    """``pickle.PickleDataset``, versioned, whose versions are loaded once their run completed.

    Takes the arguments of ``kedro_datasets.pickle.PickleDataset``; use it with
    ``versioned: true``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._written_version: str | None = None

    def save(self, data: Any) -> None:
        version = self.resolve_save_version()
        marker = self._marker(version)
        self._fs.makedirs(str(marker.parent), exist_ok=True)
        self._fs.touch(str(marker))  # before the data: a half-written file is never loaded
        self._written_version = version  # this run's later nodes read what it wrote
        super().save(data)

    def complete(self) -> str | None:
        """Make the version this process wrote loadable by everyone; returns it."""
        version, self._written_version = self._written_version, None
        if version is not None:
            self._fs.rm(str(self._marker(version)))
            self._clear_version_cache()
            logger.info("%s version %s is complete and will be served", self._filepath.name,
                        version)  # fmt: skip
        return version

    def _get_versions(self) -> list[str]:
        """Newest first, without the versions of runs that did not complete."""
        return [
            path for path in super()._get_versions()
            if PurePosixPath(path).parent.name == self._written_version
            or not self._exists_function(str(PurePosixPath(path).parent / INCOMPLETE))
        ]  # fmt: skip

    def _marker(self, version: str) -> PurePosixPath:
        return self._get_versioned_path(version).parent / INCOMPLETE


class RawCSVDataset(CSVDataset):
    """``pandas.CSVDataset`` for raw files: read in chunks, as text, with errors that say what
    to do.

    The file is read ``load_args.chunksize`` rows at a time (250,000 unless set; ``null``
    reads it whole): ``load`` returns an iterator of DataFrames, as pandas' ``read_csv`` does
    with ``chunksize``, and the pipelines check a chunk per core at once, so a file is never
    held whole as text. In a notebook, ``pd.concat(catalog.load("customers_raw"))`` gives the
    table.

    Every column is read as text unless ``load_args.dtype`` says otherwise: the raw schema,
    not pandas' guess, types the values (``schema.check_rows``), so that an identifier is
    never turned into a float by one odd value in its column, and ``True`` is not a number.

    pandas' ``read_csv`` says what the file holds; pyarrow's CSV reader reads a local file
    where its options give the same table (``arrow_csv_options``), three to five times
    faster, and hands over to pandas where it stops (docs/data-contract.md).

    A 0-byte file, and a byte that is not valid in the configured encoding (named with its
    line and the ``load_args.encoding`` to set), stop the run with the file's path.
    """

    def __init__(self, **kwargs: Any) -> None:
        defaults = {"dtype": str, "chunksize": CHUNK_ROWS}
        self._number_marks, load_args = number_marks(kwargs.pop("load_args", None) or {})
        super().__init__(load_args={**defaults, **load_args}, **kwargs)

    def load(self) -> pd.DataFrame | Iterator[pd.DataFrame]:
        path = str(self._get_load_path())
        options = arrow_csv_options(self._load_args) if self._protocol == "file" else None
        if options is None:
            return self._read_by_pandas(path)
        head = self._copy(_load_args={**self._load_args, "nrows": 0, "chunksize": None})
        header = head._pandas_load(path).columns  # pandas' names, its errors for the file
        if len(header) < 2:  # pandas skips a line of spaces, where pyarrow reads a value
            return self._read_by_pandas(path)
        chunk_rows = self._load_args.get("chunksize")
        if chunk_rows is None:
            return written_numbers(self._arrow_table(path, header, options), **self._number_marks)
        return self._arrow_chunks(path, header, options, chunk_rows)

    def _read_by_pandas(self, path: str) -> pd.DataFrame | Iterator[pd.DataFrame]:
        table = self._pandas_load(path)
        if isinstance(table, pd.DataFrame):
            return written_numbers(table, **self._number_marks)
        return self._chunks(table, path)

    def _pandas_load(self, path: str) -> Any:
        try:
            return super().load()
        except DatasetError as wrapped:  # Kedro wraps the reader's own error
            known = _read_error(path, wrapped.__cause__, self._load_args, self._fs)
            if known is None:
                raise
            raise known from wrapped.__cause__

    def _arrow_table(self, path: str, header: pd.Index, options: dict[str, Any]) -> pd.DataFrame:
        """The whole file, read by pyarrow on every core; by pandas where pyarrow stops."""
        try:
            table = pa_csv.read_csv(path, **_typed(options, header))
            return _arrow_frame(table.slice(1), header, 0)  # its first row is the header
        except ARROW_STOPS as error:
            logger.info("pandas reads %s (pyarrow could not: %s)", path, error)
            return self._pandas_load(path)

    def _arrow_chunks(
        self, path: str, header: pd.Index, options: dict[str, Any], chunk_rows: int
    ) -> Iterator[pd.DataFrame]:
        """The file ``chunk_rows`` rows at a time, read by pyarrow; where pyarrow stops (a
        ragged row, a byte the encoding refuses), pandas reads on from the first row not yet
        given, with its own handling and errors."""
        given = 0
        try:
            reader = pa_csv.open_csv(path, **_typed(options, header))
            for table in _regrouped(reader, chunk_rows):
                frame = _arrow_frame(table, header, given)
                given += len(frame)
                yield written_numbers(frame, **self._number_marks)
        except ARROW_STOPS as error:
            logger.info("pandas reads %s from row %d on (pyarrow could not: %s)", path, given,
                        error)  # fmt: skip
            yield from _rows_from(self._chunks(self._pandas_load(path), path), given)

    def preview(self, nrows: int = 5) -> TablePreview:
        head = self._copy(_load_args={**self._load_args, "nrows": nrows, "chunksize": None})
        return head.load().to_dict(orient="split")

    def _chunks(self, reader: Any, path: str) -> Iterator[pd.DataFrame]:
        with reader:
            try:
                for chunk in reader:
                    yield written_numbers(chunk, **self._number_marks)
            except UnicodeDecodeError as error:
                raise _read_error(path, error, self._load_args, self._fs) from error


def _read_error(
    path: str, error: BaseException | None, load_args: dict, fs: Any
) -> RawDataError | None:
    """The project's message for an empty file or a wrong encoding (``None`` for others)."""
    if isinstance(error, pd.errors.EmptyDataError):
        return RawDataError(
            f"Raw file {path!r} is empty: it needs a header row with the raw_schema's "
            "columns and one row per customer."
        )
    if isinstance(error, UnicodeDecodeError):
        return RawDataError(_encoding_message(path, error, load_args, fs))
    return None


def _encoding_message(path: str, error: UnicodeDecodeError, load_args: dict, fs: Any) -> str:
    """Which line holds the first byte the encoding cannot read, and what to set."""
    encoding = load_args.get("encoding", "utf-8")
    line, byte = "?", error.object[error.start : error.start + 1]
    with fs.open(path, "rb") as file:  # line by line: the reader's offset is within a buffer
        for number, content in enumerate(file, start=1):
            try:
                content.decode(encoding)
            except UnicodeDecodeError as found:
                line, byte = number, found.object[found.start : found.start + 1]
                break
    row = f" (data row {line - 2})" if isinstance(line, int) and line > 1 else ""
    return (
        f"Raw file {path!r}: byte {byte!r} on line {line}{row} is not valid {encoding}. Set "
        "the file's encoding in the catalog, e.g. `load_args: {encoding: latin-1}` (or cp1252)."
    )
