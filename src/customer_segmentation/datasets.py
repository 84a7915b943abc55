"""The project's own datasets: the served artifact's versions, and raw files' read errors.

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

import logging
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import DatasetError
from kedro_datasets.pandas import CSVDataset
from kedro_datasets.pickle import PickleDataset

from customer_segmentation.schema import RawDataError

logger = logging.getLogger(__name__)
INCOMPLETE = "_INCOMPLETE"


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
    """``pandas.CSVDataset`` for raw files, whose read errors say what to do.

    Every column is read as text unless ``load_args.dtype`` says otherwise: the raw schema,
    not pandas' guess, types the values (``schema.check_rows``), so that an identifier is
    never turned into a float by one odd value in its column, and ``True`` is not a number.

    A 0-byte file, and a byte that is not valid in the configured encoding (named with its
    line and the ``load_args.encoding`` to set), stop the run with the file's path.
    """

    def __init__(self, **kwargs: Any) -> None:
        load_args = {"dtype": str, **(kwargs.pop("load_args", None) or {})}
        super().__init__(load_args=load_args, **kwargs)

    def load(self) -> pd.DataFrame:
        path = str(self._get_load_path())
        try:
            return super().load()
        except DatasetError as wrapped:  # Kedro wraps the reader's own error
            error = wrapped.__cause__
            if isinstance(error, pd.errors.EmptyDataError):
                raise RawDataError(
                    f"Raw file {path!r} is empty: it needs a header row with the raw_schema's "
                    "columns and one row per customer."
                ) from error
            if isinstance(error, UnicodeDecodeError):
                message = _encoding_message(path, error, self._load_args, self._fs)
                raise RawDataError(message) from error
            raise


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
