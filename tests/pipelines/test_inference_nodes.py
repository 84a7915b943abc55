"""The inference pipeline's own node and the tracking metric nodes."""

from __future__ import annotations

import pandas as pd

from customer_segmentation.pipelines.clustering.nodes import k_sweep_metrics
from customer_segmentation.pipelines.data_processing.nodes import (
    data_quality_metrics,
    validate_customers,
)
from customer_segmentation.pipelines.inference.nodes import combine_scores, segment_name


def test_scores_and_rejects_come_back_in_input_order(raw_customers, raw_schema):
    raw = raw_customers.head(6).astype({"Age": "object"})
    raw.loc[1, "Age"] = "old"
    raw.loc[4, "ID"] = None
    valid, rejected, summary = validate_customers(raw, raw_schema, "to_score.csv")
    segments = pd.DataFrame({"ID": valid["ID"], "segment": [2, 0, 1, 0]})
    scored = combine_scores(segments, rejected, summary, {0: "Families"}, "ID")
    assert scored.columns.tolist() == ["ID", "segment", "segment_name", "reason"]
    assert scored["segment"].tolist() == [2, pd.NA, 0, 1, pd.NA, 0]
    assert scored["segment_name"].tolist() == [
        "Segment 2",
        None,
        "Families",
        "Segment 1",
        None,
        "Families",
    ]
    assert scored["reason"].tolist() == [
        None,
        "Age: 'old' is not an integer",
        None,
        None,
        "ID: missing value",
        None,
    ]
    assert scored["ID"].tolist()[:4] == raw["ID"].tolist()[:4]
    assert scored["ID"].isna().tolist() == [False] * 4 + [True, False]


def test_segment_name_falls_back_to_the_id():
    assert segment_name(3, {3: "Urban professionals"}) == "Urban professionals"
    assert segment_name(1, {3: "Urban professionals"}) == "Segment 1"


def test_k_sweep_metrics_are_histories_stepped_by_k():
    k_selection = pd.DataFrame({"k": [2, 3], "inertia": [9.0, 4.0], "silhouette": [0.3, 0.5]})
    assert k_sweep_metrics(k_selection) == {
        "inertia": [{"value": 9.0, "step": 2}, {"value": 4.0, "step": 3}],
        "silhouette": [{"value": 0.3, "step": 2}, {"value": 0.5, "step": 3}],
    }


def test_data_quality_metrics_are_the_row_counts(raw_customers, raw_schema):
    _, _, summary = validate_customers(raw_customers, raw_schema, "raw.csv")
    metrics = data_quality_metrics(summary)
    assert metrics["rows_raw"] == {"value": 300.0, "step": 0}
    assert set(metrics) == {"rows_raw", "rows_primary", "rows_rejected", "rejected_share"}
