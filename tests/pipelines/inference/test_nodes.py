"""The inference nodes: validate with the segmenter's schema, assign, combine in input order."""

from __future__ import annotations

import pandas as pd
import pytest

from customer_segmentation.pipelines.inference.nodes import (
    assign_scoring_segments,
    combine_scored_and_rejected,
    validate_customers_to_score,
)
from customer_segmentation.schema import RawDataError


def _score(raw: pd.DataFrame, segmenter) -> pd.DataFrame:
    valid, rejected, summary = validate_customers_to_score(raw, segmenter, "to_score.csv")
    segments = assign_scoring_segments(valid, segmenter)
    return combine_scored_and_rejected(segments, rejected, summary, segmenter)


def test_the_nodes_score_as_segmenter_predict(raw_customers, segmenter):
    raw = raw_customers.head(50).astype({"Age": "object"})
    raw.loc[3, "Age"] = "old"
    scored = _score(raw, segmenter)
    pd.testing.assert_frame_equal(scored, segmenter.predict(raw, "to_score.csv"))
    assert scored.loc[3, "reason"] == "Age: 'old' is not an integer"
    assert scored["ID"].tolist() == raw["ID"].tolist()


def test_a_file_without_a_required_column_stops_naming_it(raw_customers, segmenter):
    with pytest.raises(RawDataError, match="'to_score.csv' lacks required column.*'Income'"):
        _score(raw_customers.drop(columns="Income"), segmenter)
