"""Nodes of batch scoring: every one a thin call into the fitted ``segmenter``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.behaviour import (
    POSTED,
    add_behaviour,
    as_of_date,
    derived_columns,
    posted_lines,
)
from customer_segmentation.segmenter import Segmenter, combine_scores
from customer_segmentation.validation import check_columns, split_chunks, whole_table

logger = logging.getLogger(__name__)
AS_OF = "as_of"  # the MLflow model's input: the day posted lines are described at


def add_behaviour_to_score(
    customers_raw: pd.DataFrame | Iterable[pd.DataFrame],
    transactions_raw: pd.DataFrame | Iterable[pd.DataFrame], segmenter: Segmenter, as_of: Any,
    raw_data_path: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """The customers to score joined with the behaviour their transactions show, derived as
    the segmenter's training derived it (``behaviour.add_behaviour``).

    Returns:
        The customers with their behaviour features, and the transaction lines rejected.

    Raises:
        RawDataError: The customer file lacks a column (as ``validate_customers_to_score``
            would say, before the log is read).
    """
    customers = whole_table(customers_raw)
    check_columns(customers, segmenter.spec, raw_data_path,
                  joined=behaviour_of(segmenter).schema.feature_columns)  # fmt: skip
    return _with_behaviour(customers, whole_table(transactions_raw), segmenter, as_of)


def log_customers_to_score(
    transactions_raw: pd.DataFrame | Iterable[pd.DataFrame], segmenter: Segmenter, as_of: Any
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every customer of a transaction log with their behaviour, for a segmenter trained on
    behaviour alone (``segment_on: behaviour``).

    Returns:
        The customers with their behaviour features, and the transaction lines rejected.
    """
    lines = whole_table(transactions_raw)
    column = behaviour_of(segmenter).schema.columns["customer"]
    customers = pd.DataFrame({segmenter.spec.id_column: lines[column].dropna().unique()})
    return _with_behaviour(customers, lines, segmenter, as_of)


def _with_behaviour(customers: pd.DataFrame, lines: pd.DataFrame, segmenter: Segmenter,
                    as_of: Any) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    joined = add_behaviour(customers, lines, behaviour_of(segmenter), segmenter.spec.id_column,
                           as_of_date(as_of))  # fmt: skip
    logger.info("Behaviour of %d customers as of %s from %d transaction lines (%d rejected)",
                len(customers), joined.as_of.date(), len(lines),
                len(joined.rejected_lines))  # fmt: skip
    return joined.customers, joined.rejected_lines


def derive_posted_behaviour(
    customers_raw: pd.DataFrame | Iterable[pd.DataFrame], segmenter: Segmenter
) -> pd.DataFrame | Iterable[pd.DataFrame]:
    """Customers who carry their own transaction lines get their behaviour derived from them:
    the MLflow model takes, as the API does, a ``transactions`` column (each cell a list of
    lines, or its JSON text) and an optional ``as_of`` column. Others keep the values they
    carry; a table without the column passes through.

    Raises:
        ValueError: A posted line breaks a rule (its customer's row, its place, the reason).
    """
    if not isinstance(customers_raw, pd.DataFrame) or POSTED not in customers_raw.columns:
        return customers_raw
    spec, id_column = behaviour_of(segmenter), segmenter.spec.id_column
    posted = customers_raw[POSTED].map(lambda cell: cell is not None and cell == cell).to_numpy()
    as_of = customers_raw.get(AS_OF, pd.Series()).dropna()
    table = customers_raw.drop(columns=[POSTED, AS_OF], errors="ignore")
    lines, owners = posted_lines(customers_raw[posted], id_column, spec.schema)
    joined = add_behaviour(table[posted], lines, spec, id_column,
                           as_of_date(as_of.iloc[0]) if len(as_of) else None)  # fmt: skip
    if len(joined.rejected_lines):
        rows = np.flatnonzero(posted)
        shown = [f"row {rows[owners[line][0]]}, line {owners[line][1]}: {reason}"
                 for line, reason in zip(joined.rejected_lines["raw_row"],
                                         joined.rejected_lines["reason"], strict=True)]
        raise ValueError(f"{len(shown)} posted transaction line(s) break a rule: "
                         f"{'; '.join(shown[:10])}")  # fmt: skip
    derived = [name for name in spec.schema.feature_columns if name in joined.customers]
    table = table.copy()
    for name in derived:
        table.loc[posted, name] = joined.customers[name].to_numpy()
    return table


def behaviour_of(segmenter: Segmenter) -> Any:
    """How the segmenter's training derived behaviour (``BehaviourSpec``).

    Raises:
        ValueError: It was trained on the customer table alone.
    """
    if segmenter.behaviour is None:
        raise ValueError("The segmenter was trained on the customer table alone "
                         "(segment_on: customers): score with segment_on: customers.")  # fmt: skip
    return segmenter.behaviour


def validate_customers_to_score(
    customers_raw: pd.DataFrame | Iterable[pd.DataFrame], segmenter: Segmenter, raw_data_path: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split the customers to score by the rules of the schema the segmenter was trained on.

    ``customers_raw`` is one DataFrame (the MLflow model's input) or the row chunks of the
    raw dataset, checked a few at a time (``validation.split_chunks``).

    Returns:
        Valid rows, rejected rows (``raw_row``, ``reason``) and the data-quality summary.

    Raises:
        RawDataError: The file lacks a required column or has no rows.
    """
    split = split_chunks(customers_raw, segmenter.spec, raw_data_path,
                         derived_columns(segmenter.behaviour))
    return split.valid, split.rejected, split.summary


def assign_scoring_segments(scoring_valid: pd.DataFrame, segmenter: Segmenter) -> pd.DataFrame:
    """Identifier, segment and segment name of each valid customer, in input order."""
    return segmenter.assign(scoring_valid)


def combine_scored_and_rejected(
    scoring_segments: pd.DataFrame,
    scoring_rejected: pd.DataFrame,
    scoring_quality_summary: dict[str, Any],
    segmenter: Segmenter,
) -> pd.DataFrame:
    """Every input row in input order: its segment and name, or why it was rejected.

    Returns:
        The identifier, ``segment`` (empty when rejected), ``segment_name`` and ``reason``.
    """
    scored = combine_scores(scoring_segments, scoring_rejected, segmenter.spec.id_column)
    logger.info(
        "Scored %d of %d customers with %s (k=%d); %d rejected (see `reason`)",
        len(scoring_segments), scoring_quality_summary["rows_raw"], segmenter.algorithm,
        segmenter.k, len(scoring_rejected),
    )  # fmt: skip
    return scored
