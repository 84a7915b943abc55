"""Segment rules: profiles in raw units and legend labels, names from the profiles, nearest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.features import FeatureSpec
from customer_segmentation.schema import RawSchema
from customer_segmentation.segments import name_segments, nearest, profile_segments, segment_name
from customer_segmentation.validation import split_rows

WORDS = {"Age": ["younger", "older"], "Income": ["lower income", "higher income"]}
NAMING = {"max_traits": 3, "min_effect": 0.5, "words": WORDS}


@pytest.fixture
def customers(raw_customers, spec):
    return split_rows(raw_customers, spec, "raw.csv").valid


def _segments_by_age(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"ID": customers["ID"], "segment": (customers["Age"] >= 45).astype(int)})


def test_profiles_are_in_raw_units_and_legend_labels(customers, spec, raw_schema):
    segments = _segments_by_age(customers)
    profiles = profile_segments(customers, segments, spec)
    assert profiles["segment"].tolist() == [0, 1, -1]
    assert profiles["size"].tolist() == [
        (customers["Age"] < 45).sum(),
        (customers["Age"] >= 45).sum(),
        300,
    ]
    older = customers[customers["Age"] >= 45]
    row = profiles.set_index("segment").loc[1]
    assert row["Age mean"] == pytest.approx(older["Age"].mean())
    assert row["Income median"] == pytest.approx(older["Income"].median())
    assert row["Occupation: management/self-employed/highly qualified"] == pytest.approx(
        (older["Occupation"] == 2).mean()
    )
    shares = row[[c for c in profiles.columns if c.startswith("Education: ")]]
    assert shares.sum() == pytest.approx(1)


def test_names_follow_the_rule_on_the_profile_table(customers, spec, raw_schema):
    """Each word of a name is a trait whose standardised effect in the profile is >= 0.5."""
    segments = _segments_by_age(customers)
    profiles = profile_segments(customers, segments, spec)
    names = name_segments(profiles, spec, NAMING)
    assert names[1].startswith("Older") and names[0] != names[1]
    assert_names_follow_the_rule(profiles, names, raw_schema, WORDS, min_effect=0.5)


def assert_names_follow_the_rule(
    profiles: pd.DataFrame, names: dict, raw_schema: dict, words: dict, min_effect: float
) -> None:
    """Check every word of every name against the profile table (docs/models.md's rule)."""
    numeric_words = {
        word: (column, i) for column, pair in words.items() for i, word in enumerate(pair)
    }
    labels = {label: column for column, spec in raw_schema["columns"].items()
              for label in (spec.get("codes") or {}).values()}  # fmt: skip
    table = profiles.set_index("segment")
    overall = table.loc[-1]
    for k, name in names.items():
        row = table.loc[int(k)]
        for word in [] if name == "Typical customers" else name.lower().split(" · "):
            if word in numeric_words:
                column, above = numeric_words[word]
                spread = overall[f"{column} std"]
                effect = (row[f"{column} mean"] - overall[f"{column} mean"]) / spread
                assert abs(effect) >= min_effect and (effect > 0) == bool(above), (name, word)
            else:
                share = f"{labels[word]}: {word}"
                base = overall[share]
                assert (row[share] - base) / np.sqrt(base * (1 - base)) >= min_effect, (name, word)


def test_a_numeric_trait_without_words_is_named_by_its_label(customers, spec, raw_schema):
    columns = {**raw_schema["columns"], "Age": {**raw_schema["columns"]["Age"],
                                                "label": "age of the customer"}}  # fmt: skip
    labelled = dataclasses.replace(
        spec, schema=RawSchema.from_params({**raw_schema, "columns": columns})
    )  # fmt: skip
    profiles = profile_segments(customers, _segments_by_age(customers), labelled)
    names = name_segments(profiles, labelled, {**NAMING, "words": {}})
    assert names[1].startswith("High age of the customer")


def test_names_differ_and_overrides_win(customers, spec, raw_schema):
    segments = _segments_by_age(customers)
    profiles = profile_segments(customers, segments, spec)
    names = name_segments(profiles, spec, NAMING)
    assert len(set(names.values())) == 2
    renamed = name_segments(profiles, spec, NAMING, {"1": "Seniors"})
    assert renamed == {0: names[0], 1: "Seniors"}


def test_a_segment_like_everyone_is_typical(customers, spec, raw_schema):
    segments = pd.DataFrame({"ID": customers["ID"], "segment": np.arange(len(customers)) % 2})
    profiles = profile_segments(customers, segments, spec)
    names = name_segments(profiles, spec, NAMING)
    assert set(names.values()) <= {"Typical customers", "Typical customers (segment 0)",
                                   "Typical customers (segment 1)"}  # fmt: skip
    assert len(set(names.values())) == 2


def test_segment_name_falls_back_to_the_id():
    assert segment_name(3, {3: "Urban professionals"}) == "Urban professionals"
    assert segment_name(3, {"3": "Urban professionals"}) == "Urban professionals"
    assert segment_name(1, {3: "Urban professionals"}) == "Segment 1"


def test_nearest_takes_the_lowest_index_on_a_tie_and_adds_the_extra_cost():
    centres = np.array([[0.0, 0.0], [2.0, 0.0]])
    points = np.array([[1.0, 0.0], [1.9, 0.0], [0.1, 0.0]])
    assert nearest(points, centres).tolist() == [0, 1, 0]
    assert nearest(points, centres, np.array([[1.0, 0.0]] * 3)).tolist() == [1, 1, 0]


@pytest.mark.parametrize("block_rows", [32_768, 1_000])
def test_nearest_gives_the_same_bits_for_a_request_and_for_a_batch(monkeypatch, block_rows):
    from customer_segmentation import segments

    monkeypatch.setattr(segments, "_BLOCK_ROWS", block_rows)  # 1,000: five blocks on threads
    rng = np.random.default_rng(5)
    points, centres = rng.normal(size=(4_500, 9)), rng.normal(size=(6, 9))
    assert len(points) * len(centres) * 9 > segments._BROADCAST_LIMIT  # the loop over features
    batch = nearest(points, centres)
    one_by_one = np.concatenate([nearest(point[None, :], centres) for point in points])
    assert np.array_equal(batch, one_by_one)
    extra = rng.integers(0, 3, size=(len(points), len(centres))) * 0.7
    assert np.array_equal(
        nearest(points, centres, extra),
        np.concatenate([
            nearest(point[None, :], centres, cost[None, :])
            for point, cost in zip(points, extra, strict=True)
        ]),
    )


def test_a_sentinel_is_profiled_as_a_share_and_kept_out_of_the_amounts():
    spec = FeatureSpec.from_params(
        {"columns": {"pdays": {"kind": "numeric", "min": 0,
                               "sentinels": {-1: "never contacted"}}}},  # fmt: skip
        {"numeric": ["pdays"]},
    )
    customers = pd.DataFrame({"row_index": range(4), "pdays": [-1.0, 10.0, -1.0, 30.0]})
    segments = pd.DataFrame({"row_index": range(4), "segment": [0, 0, 1, 1]})
    profiles = profile_segments(customers, segments, spec).set_index("segment")
    assert profiles["pdays: never contacted"].tolist() == [0.5, 0.5, 0.5]
    assert profiles["pdays mean"].tolist() == [10.0, 30.0, 20.0]
