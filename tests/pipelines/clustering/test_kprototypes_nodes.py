"""The K-Prototypes nodes of the clustering pipeline."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.pipelines.clustering.kprototypes_nodes import (
    assign_kprototypes_segments,
    choose_kprototypes_k,
    evaluate_kprototypes,
    gower_silhouette,
    mixed_input,
    sweep_kprototypes,
    train_kprototypes,
)

SETTINGS = {
    "engine": "fast", "k_min": 2, "k_max": 5, "k": "auto", "knee_sensitivity": 1.0,
    "gamma": None, "n_init": 3, "max_iter": 100, "random_state": 0,
    "sweep_sample_size": 50_000, "silhouette_sample_size": 2000,
}  # fmt: skip
CLUSTERING = {"min_segment_share": 0.02}


@pytest.fixture
def customers() -> pd.DataFrame:
    """Three groups of 120, 80 and 40 customers, each with its own numbers and categories."""
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1, 2], [120, 80, 40])
    return pd.DataFrame({
        "ID": np.arange(len(group)),
        "x": rng.normal(group * 4.0, 0.5),
        "size": np.where(rng.random(len(group)) < 0.9, group, rng.integers(0, 3, len(group))),
        "colour": np.where(rng.random(len(group)) < 0.9, 2 - group, 0),
    })  # fmt: skip


def test_sweep_scores_every_k_and_the_knee_finds_the_groups(customers):
    sweep = sweep_kprototypes(customers, SETTINGS, "ID")
    assert sweep["k"].tolist() == [2, 3, 4, 5]
    assert sweep["cost"].is_monotonic_decreasing
    assert sweep.set_index("k")["silhouette_gower"].idxmax() == 3
    assert choose_kprototypes_k(sweep, SETTINGS, CLUSTERING) == 3


def test_sweep_fits_a_sample_above_the_threshold(customers, caplog):
    caplog.set_level(logging.INFO)
    sweep_kprototypes(customers, {**SETTINGS, "sweep_sample_size": 100, "k_max": 2}, "ID")
    assert "(fast engine, 100 rows)" in caplog.text


def test_final_model_numbers_segments_by_size(customers):
    model = train_kprototypes(customers, 3, SETTINGS, "ID")
    segments = assign_kprototypes_segments(customers, model, "ID")
    assert np.bincount(segments["segment"]).tolist() == [120, 80, 40]
    assert segments["ID"].tolist() == customers["ID"].tolist()
    np.testing.assert_array_equal(segments["segment"], model.labels_)


def test_above_fit_sample_size_the_starts_run_on_a_sample_and_the_fit_on_every_row(
    customers, caplog
):
    caplog.set_level(logging.INFO)
    full = train_kprototypes(customers, 3, SETTINGS, "ID")
    sampled = train_kprototypes(customers, 3, {**SETTINGS, "fit_sample_size": 60}, "ID")
    assert "the best of 3 starts on 60 sampled rows starts the run on all 240 rows" in caplog.text
    np.testing.assert_array_equal(sampled.labels_, full.labels_)
    assert sampled.gamma_ == pytest.approx(full.gamma_, rel=0.1)  # estimated on the sample


def test_kmodes_engine_gives_the_same_segments(customers):
    fast = train_kprototypes(customers, 3, SETTINGS, "ID")
    reference = train_kprototypes(customers, 3, {**SETTINGS, "engine": "kmodes"}, "ID")
    np.testing.assert_array_equal(fast.labels_, reference.labels_)


def test_metrics_of_the_final_model(customers):
    model = train_kprototypes(customers, 3, SETTINGS, "ID")
    metrics = evaluate_kprototypes(customers, model, SETTINGS, "ID")
    assert metrics["k"] == {"value": 3.0, "step": 0}
    assert metrics["cost"]["value"] == pytest.approx(model.cost_)
    assert metrics["silhouette_gower"]["value"] > 0.5


def test_gower_silhouette_is_high_for_separated_groups_and_low_for_noise(customers):
    X, categorical = mixed_input(customers, "ID")
    assert categorical == [1, 2]
    truth = np.repeat([0, 1, 2], [120, 80, 40])
    noise = np.random.default_rng(1).integers(0, 3, len(truth))
    assert gower_silhouette(X, categorical, truth, SETTINGS) > 0.5
    assert abs(gower_silhouette(X, categorical, noise, SETTINGS)) < 0.1
