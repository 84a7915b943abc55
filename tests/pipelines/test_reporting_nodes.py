"""The reporting nodes: profiles in raw units and legend labels, names from the profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.pipelines.reporting.nodes import (
    name_segments,
    profile_segments,
    served_segments,
)

WORDS = {"Age": ["younger", "older"], "Income": ["lower income", "higher income"]}
NAMING = {"naming": {"max_traits": 3, "min_effect": 0.5, "words": WORDS}, "segment_names": {}}


@pytest.fixture
def customers(raw_customers, raw_schema):
    from customer_segmentation.pipelines.data_processing.nodes import validate_customers

    return validate_customers(raw_customers, raw_schema, "raw.csv")[0]


def _segments_by_age(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"ID": customers["ID"], "segment": (customers["Age"] >= 45).astype(int)})


def test_profiles_are_in_raw_units_and_legend_labels(customers, parameters, raw_schema):
    segments = _segments_by_age(customers)
    profiles = profile_segments(customers, segments, parameters["features"], raw_schema)
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


def test_names_follow_the_rule_on_the_profile_table(customers, parameters, raw_schema):
    """Each word of a name is a trait whose standardised effect in the profile is >= 0.5."""
    segments = _segments_by_age(customers)
    features = parameters["features"]
    profiles = profile_segments(customers, segments, features, raw_schema)
    names = name_segments(profiles, features, raw_schema, NAMING)
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


def test_names_differ_and_overrides_win(customers, parameters, raw_schema):
    segments = _segments_by_age(customers)
    features = parameters["features"]
    profiles = profile_segments(customers, segments, features, raw_schema)
    names = name_segments(profiles, features, raw_schema, NAMING)
    assert len(set(names.values())) == 2
    renamed = name_segments(
        profiles, features, raw_schema, {**NAMING, "segment_names": {1: "Seniors"}}
    )
    assert renamed == {0: names[0], 1: "Seniors"}


def test_a_segment_like_everyone_is_typical(customers, parameters, raw_schema):
    segments = pd.DataFrame({"ID": customers["ID"], "segment": np.arange(len(customers)) % 2})
    profiles = profile_segments(customers, segments, parameters["features"], raw_schema)
    names = name_segments(profiles, parameters["features"], raw_schema, NAMING)
    assert set(names.values()) <= {"Typical customers", "Typical customers (segment 0)",
                                   "Typical customers (segment 1)"}  # fmt: skip
    assert len(set(names.values())) == 2


def test_served_segments_follow_the_serving_parameter():
    kmeans, kprototypes = pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [2]})
    assert served_segments(kmeans, kprototypes, {"model": "kmeans"}) is kmeans
    assert served_segments(kmeans, kprototypes, {"model": "kprototypes"}) is kprototypes
