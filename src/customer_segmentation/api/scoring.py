"""Requests into the segmenter's arrays, and its segments into answers.

Validated request customers go straight to ``Segmenter.segments`` as NumPy arrays (no
DataFrame per request); an uploaded CSV goes through ``validation.split_rows`` and
``Segmenter.assign``, exactly as batch scoring does.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from fastapi import HTTPException

from customer_segmentation.behaviour import POSTED, BehaviourSpec, add_behaviour, posted_lines
from customer_segmentation.datasets import read_text_csv
from customer_segmentation.features import FeatureSpec, FittedFeatures, days
from customer_segmentation.schema import RawDataError
from customer_segmentation.segmenter import Segmenter
from customer_segmentation.validation import split_rows

from .schemas import TRANSACTIONS, field_names


class RequestReader:
    """Reads validated request customers (``schemas.customer_model``) into arrays."""

    def __init__(self, spec: FeatureSpec, behaviour: BehaviourSpec | None = None) -> None:
        fields = field_names(spec.schema)
        self.fields = fields
        self.id_field = fields.get(spec.id_column)  # None: a customer's place in the request
        self.id_column = spec.id_column
        self.inputs = [fields[name] for name in spec.inputs]
        self.categorical = [
            (fields[name], {code: i for i, code in enumerate(spec.codes(name))})
            for name in spec.categorical
        ]
        self.spec = spec
        self.behaviour = behaviour
        derived = set(behaviour.schema.feature_columns) if behaviour else set()
        self.derived = [(name, fields[name]) for name in spec.schema.columns if name in derived]

    def derive_behaviour(self, customers: list[Any], as_of: Any = None) -> None:
        """Set the behaviour values of the customers who carry transactions, derived as the
        pipelines derive them (``behaviour.add_behaviour``).

        Raises:
            HTTPException: 422 for a customer with neither the values nor transactions, a
                rejected line (named by customer and line) or no date to describe them at.
        """
        if self.behaviour is None:
            return
        missing = [
            {"record": row, "field": name, "type": "missing_value",
             "message": f"{name}: missing value (send it, or the customer's transactions)"}
            for row, customer in enumerate(customers) if getattr(customer, TRANSACTIONS) is None
            for name, field in self.derived if getattr(customer, field) is None
        ]  # fmt: skip
        if missing:
            raise HTTPException(422, missing)
        posted = [row for row, c in enumerate(customers) if getattr(c, TRANSACTIONS) is not None]
        if not posted:
            return
        posted_customers = pd.DataFrame({
            self.id_column: [getattr(customers[row], self.id_field) for row in posted],
            POSTED: [getattr(customers[row], TRANSACTIONS) for row in posted],
            **{name: [getattr(customers[row], self.fields[name]) for row in posted]
               for name in self.behaviour.schema.attributes if name in self.fields},
        })  # fmt: skip
        lines, owners = posted_lines(posted_customers, self.id_column, self.behaviour.schema)
        try:
            joined = add_behaviour(posted_customers.drop(columns=POSTED), lines, self.behaviour,
                                   self.id_column, pd.Timestamp(as_of) if as_of else None)
        except ValueError as error:
            raise HTTPException(422, [{"record": None, "field": TRANSACTIONS,
                                       "message": str(error), "type": "invalid_transactions"}]
                                ) from error  # fmt: skip
        if len(joined.rejected_lines):
            raise HTTPException(422, [
                {"record": posted[owners[line][0]], "field": TRANSACTIONS, "type": "invalid_line",
                 "message": f"line {owners[line][1]}: {reason}"}
                for line, reason in zip(joined.rejected_lines["raw_row"],
                                        joined.rejected_lines["reason"], strict=True)
            ])  # fmt: skip
        values = joined.customers
        for position, row in enumerate(posted):
            for name, field in self.derived:
                setattr(customers[row], field, values[name].iloc[position].item())

    def arrays(
        self, features: FittedFeatures, customers: list[Any]
    ) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Numeric feature values (derived ones computed), legend positions and identifiers.

        Raises:
            HTTPException: 422 for a value outside its feature transform's domain.
        """
        if self.spec.dates:  # dates as days, as FeatureSpec.input_values has them
            inputs = np.column_stack([
                days([getattr(c, f) for c in customers]) if name in self.spec.dates
                else np.array([getattr(c, f) for c in customers], dtype=np.float64)
                for name, f in zip(self.spec.inputs, self.inputs, strict=True)
            ])  # fmt: skip
        else:
            inputs = np.array([[getattr(c, f) for f in self.inputs] for c in customers],
                              dtype=np.float64)  # fmt: skip
        numeric = features.derive(inputs.reshape(len(customers), len(self.inputs)))
        positions = np.array(
            [[table.get(getattr(c, f), -1) for f, table in self.categorical] for c in customers],
            dtype=np.int64,
        ).reshape(len(customers), len(self.categorical))
        problems = self.spec.domain_problems(numeric)
        if problems:
            raise HTTPException(422, [
                {"record": row, "field": column, "message": message, "type": "outside_domain"}
                for row, column, message in problems
            ])  # fmt: skip
        ids = (range(len(customers)) if self.id_field is None
               else [getattr(c, self.id_field) for c in customers])  # fmt: skip
        return numeric, positions, list(ids)

    def predictions(
        self, segmenter: Segmenter, customers: list[Any]
    ) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
        """Each customer's identifier, segment and segment name, in input order."""
        numeric, positions, ids = self.arrays(segmenter.features, customers)
        segments = segmenter.segments(numeric, positions).tolist()
        answers = [
            {self.id_column: id_, "segment": segment, "segment_name": segmenter.name(segment)}
            for id_, segment in zip(ids, segments, strict=True)
        ]
        return answers, numeric, positions


def score_csv(
    segmenter: Segmenter, content: bytes, max_batch: int, csv_format: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Score an uploaded CSV of raw customers, checked by the pipeline's own rules.

    Args:
        segmenter: The served segmenter.
        content: The upload.
        max_batch: Most customers in one upload.
        csv_format: How raw files are written (``datasets.csv_format`` of ``customers_raw``):
            separator, encoding, decimal mark, quoting, missing-value markers.

    Raises:
        HTTPException: 422 for an unreadable file, a whole-file problem or any bad row (each
            named with its data row); 413 above ``max_batch`` rows.
    """
    csv_format = csv_format or {}
    header = csv_header(content, csv_format)
    known = [name for name in header if name in segmenter.spec.schema.columns]
    try:  # as the pipeline reads raw files: as text, typed by the schema; unknown columns unread
        raw = read_text_csv(io.BytesIO(content), csv_format, usecols=known or None)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise invalid_file(f"The upload is not a readable CSV: {error}") from error
    check_batch(len(raw), max_batch)
    try:
        split = split_rows(raw, segmenter.spec, "the upload")
    except RawDataError as error:
        raise invalid_file(str(error)) from error
    if len(split.rejected):
        raise HTTPException(422, [
            {"record": int(row), "field": None, "message": reason, "type": "invalid_row"}
            for row, reason in zip(split.rejected["raw_row"], split.rejected["reason"],
                                   strict=True)
        ])  # fmt: skip
    return segmenter.assign(split.valid)


def csv_header(
    content: bytes, csv_format: dict[str, Any] | None = None, most_bytes: int = 1 << 20
) -> list[str]:
    """The column names of an upload, checked before any row is parsed.

    Read with the raw files' separator, quote character and encoding (``csv_format``).

    Raises:
        HTTPException: 422 for a header not in the encoding, longer than ``most_bytes``, or
            that names a column twice (pandas would rename repeats, in quadratic time).
    """
    csv_format = csv_format or {}
    encoding = csv_format.get("encoding") or "utf-8"
    end = content.find(b"\n", 0, most_bytes + 1)
    if end < 0 and len(content) > most_bytes:
        raise invalid_file(f"The CSV header is longer than {most_bytes} bytes.")
    try:
        line = content[: end if end >= 0 else len(content)].decode(
            "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        )
    except UnicodeDecodeError as error:
        raise invalid_file(f"The CSV header is not {encoding}: {error}") from error
    separator = csv_format.get("sep") or csv_format.get("delimiter") or ","
    names = next(csv.reader([line], delimiter=separator,
                            quotechar=csv_format.get("quotechar") or '"'), [])  # fmt: skip
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        shown = ", ".join(repr(name) for name in repeated[:10])
        raise invalid_file(f"The CSV header names a column more than once: {shown}.")
    return names


def invalid_file(message: str) -> HTTPException:
    """422 for a problem with a whole upload."""
    return HTTPException(
        422, [{"record": None, "field": None, "message": message, "type": "invalid_file"}]
    )


def check_batch(size: int, max_batch: int) -> None:
    """413 for more than ``max_batch`` customers in one request."""
    if size > max_batch:
        raise HTTPException(413, f"{size} customers in one request; the limit is {max_batch}.")
