"""The segmenter: one path from raw rows to named segments, and its array fast path."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.data_generator import generate_customers
from customer_segmentation.features import FeatureSpec, fit_features
from customer_segmentation.segmenter import build_segmenter, combine_scores
from customer_segmentation.validation import split_rows

from .conftest import fit_segmenter


def test_predict_scores_valid_rows_and_gives_reasons_in_input_order(raw_customers, segmenter):
    raw = raw_customers.head(6).astype({"Age": "object"})
    raw.loc[1, "Age"] = "old"
    raw.loc[4, "ID"] = None
    scored = segmenter.predict(raw)
    assert scored.columns.tolist() == ["ID", "segment", "segment_name", "reason"]
    assert scored["segment"].isna().tolist() == [False, True, False, False, True, False]
    assert scored["reason"].tolist() == [
        None, "Age: 'old' is not an integer", None, None, "ID: missing value", None,
    ]  # fmt: skip
    valid = scored["segment"].notna()
    assert scored.loc[valid, "segment_name"].tolist() == [
        f"Group {s}" for s in scored.loc[valid, "segment"]
    ]
    assert scored["ID"].tolist()[:4] == raw["ID"].tolist()[:4]


def test_the_fast_path_equals_predict(raw_customers, segmenter):
    valid = split_rows(raw_customers, segmenter.spec, "raw").valid
    fast = segmenter.segments(*segmenter.features.arrays(valid))
    assert fast.tolist() == segmenter.predict(raw_customers)["segment"].tolist()
    one = segmenter.segments(*segmenter.features.arrays(valid.head(1)))
    assert one.tolist() == fast[:1].tolist()


def test_k_means_segments_equal_scikit_learn_predict(raw_customers, spec):
    from sklearn.cluster import KMeans

    segmenter = fit_segmenter(generate_customers(400, seed=3), spec, "kmeans")
    valid = split_rows(raw_customers, spec, "raw").valid
    features = segmenter.features.transform(*segmenter.features.arrays(valid))
    model = KMeans(segmenter.k, n_init=1, init=segmenter.centres, max_iter=1)
    model.cluster_centers_, model._n_threads = segmenter.centres, 1
    model.n_features_in_ = features.shape[1]
    assert segmenter.segments(*segmenter.features.arrays(valid)).tolist() == (
        model.predict(features).tolist()
    )


def test_log1p_goes_through_every_path(raw_customers, raw_schema):
    features = {"numeric": ["Age", {"column": "Income", "transform": "log1p"}],
                "ordinal": ["Education"]}  # fmt: skip
    spec = FeatureSpec.from_params(raw_schema, features)
    segmenter = fit_segmenter(generate_customers(400, seed=3), spec, "kmeans")
    valid = split_rows(raw_customers, spec, "raw").valid
    inputs = segmenter.features.transform(*segmenter.features.arrays(valid))
    fitted = segmenter.features
    expected_income = (np.log1p(valid["Income"]) - fitted.centres[1]) / fitted.scales[1]
    np.testing.assert_array_equal(inputs[:, 1], expected_income)
    assert segmenter.predict(raw_customers)["segment"].tolist() == (
        segmenter.segments(*segmenter.features.arrays(valid)).tolist()
    )


def test_a_value_outside_the_transform_domain_is_a_row_reason(raw_schema):
    unbounded = {"kind": "numeric", "dtype": "float"}
    schema = {**raw_schema, "columns": {**raw_schema["columns"], "Income": unbounded}}
    logged = {"numeric": [{"column": "Income", "transform": "log1p"}]}
    spec = FeatureSpec.from_params(schema, logged)
    raw = generate_customers(20, seed=1).astype({"Income": "float64"})
    raw.loc[5, "Income"] = -3.0
    split = split_rows(raw, spec, "raw")
    assert split.rejected["reason"].tolist() == [
        "Income: -3 is outside the domain of log1p (values above -1)"
    ]
    assert split.summary["violations"]["outside_domain"] == {"features": 1}
    assert len(split.valid) == 19


def test_the_segmenter_survives_pickling(segmenter, raw_customers):
    again = pickle.loads(pickle.dumps(segmenter))
    pd.testing.assert_frame_equal(again.predict(raw_customers), segmenter.predict(raw_customers))
    assert again.spec == segmenter.spec


def test_an_unknown_algorithm_is_refused(spec, raw_customers):
    features = fit_features(split_rows(raw_customers, spec, "raw").valid, spec)
    with pytest.raises(ValueError, match="serving.model must be one of kmeans, kprototypes"):
        build_segmenter(features, None, "dbscan", {}, np.array([]), None)


def test_combine_keeps_input_order_and_nullable_segments():
    scored = pd.DataFrame({"ID": [10, 12], "segment": [2, 0], "segment_name": ["b", "a"]})
    rejected = pd.DataFrame({"raw_row": [1], "ID": [11], "reason": ["Age: missing value"]})
    combined = combine_scores(scored, rejected, "ID")
    assert combined["ID"].tolist() == [10, 11, 12]
    assert combined["segment"].tolist() == [2, pd.NA, 0]
    assert combined["reason"].tolist() == [None, "Age: missing value", None]


def test_rejected_text_identifiers_stay_integers_in_the_scores(raw_customers, segmenter):
    """Raw files are read as text: the rejected rows' IDs are parsed back, exactly."""
    raw = raw_customers.head(6).astype(str)
    raw.loc[2, "Age"] = "old"
    scored = segmenter.predict(raw)
    assert scored["ID"].dtype == "Int64"
    assert scored["ID"].tolist() == raw_customers["ID"].head(6).tolist()
