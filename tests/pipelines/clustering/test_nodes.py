"""The clustering nodes: k sweep, k choice, final fit and segment ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from customer_segmentation.pipelines.clustering.nodes import (
    assign_segments,
    choose_k,
    k_sweep_metrics,
    sweep_k,
    train_kmeans,
)

KMEANS = {
    "k_min": 2,
    "k_max": 7,
    "k": "auto",
    "knee_sensitivity": 1.0,
    "n_init": 4,
    "max_iter": 300,
    "random_state": 0,
    "sweep_sample_size": 50_000,
    "silhouette_sample_size": 10_000,
}
CLUSTERING = {"min_segment_share": 0.02}


@pytest.fixture
def blobs() -> pd.DataFrame:
    """Four well separated blobs of unequal sizes, with an ID column."""
    features, _ = make_blobs(
        n_samples=[250, 150, 100, 60],
        centers=[[0, 0], [8, 0], [0, 8], [8, 8]],
        cluster_std=0.7,
        random_state=3,
    )
    frame = pd.DataFrame(features, columns=["x", "y"])
    frame.insert(0, "ID", np.arange(1000, 1000 + len(frame)))
    return frame


def test_sweep_scores_every_k(blobs):
    sweep = sweep_k(blobs, KMEANS, "ID")
    assert sweep["k"].tolist() == list(range(2, 8))
    assert sweep["inertia"].is_monotonic_decreasing
    best = sweep.set_index("k")
    assert best["silhouette"].idxmax() == 4
    assert best["calinski_harabasz"].idxmax() == 4
    assert best["davies_bouldin"].idxmin() == 4


def test_silhouette_is_sampled_above_the_threshold(blobs):
    full = sweep_k(blobs, KMEANS, "ID")
    sampled = sweep_k(blobs, {**KMEANS, "silhouette_sample_size": 200}, "ID")
    assert not np.allclose(full["silhouette"], sampled["silhouette"])
    np.testing.assert_allclose(full["silhouette"], sampled["silhouette"], atol=0.05)
    pd.testing.assert_series_equal(full["inertia"], sampled["inertia"])


def test_the_sweep_fits_a_seeded_sample_above_its_size_and_finds_the_same_k(blobs, caplog):
    caplog.set_level("INFO")
    sampled = {**KMEANS, "sweep_sample_size": 300}
    sweep = sweep_k(blobs, sampled, "ID")
    assert "k sweep: k=2 done (1 of 6), 300 rows in" in caplog.text
    assert sweep["inertia"].sum() < sweep_k(blobs, KMEANS, "ID")["inertia"].sum()  # fewer rows
    pd.testing.assert_frame_equal(
        sweep.drop(columns="fit_seconds"), sweep_k(blobs, sampled, "ID").drop(columns="fit_seconds")
    )  # seeded: the same sample every run
    full = sweep_k(blobs, KMEANS, "ID")
    assert choose_k(sweep, sampled, CLUSTERING) == choose_k(full, KMEANS, CLUSTERING) == 4
    model = train_kmeans(blobs, 4, sampled, "ID")
    assert len(model.labels_) == len(blobs)  # the final model fits every row


def test_auto_k_is_the_knee(blobs):
    assert choose_k(sweep_k(blobs, KMEANS, "ID"), KMEANS, CLUSTERING) == 4


def test_fixed_k_is_used_as_given(blobs):
    assert choose_k(sweep_k(blobs, KMEANS, "ID"), {**KMEANS, "k": 6}, CLUSTERING) == 6
    with pytest.raises(ValueError, match="at least 2"):
        choose_k(pd.DataFrame(), {**KMEANS, "k": 1}, CLUSTERING)


def test_no_knee_falls_back_to_best_silhouette_smaller_k_on_ties():
    flat = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "inertia": [40.0, 30.0, 20.0, 10.0],  # a straight line: no knee
            "silhouette": [0.2, 0.5, 0.5, 0.1],
        }
    )
    assert choose_k(flat, KMEANS, CLUSTERING) == 3


def test_auto_k_never_leaves_a_segment_under_min_segment_share(blobs, caplog):
    caplog.set_level("INFO")
    sweep = sweep_k(blobs, KMEANS, "ID")
    assert sweep.loc[sweep["k"] == 4, "smallest_share"].item() == pytest.approx(60 / 560)
    assert choose_k(sweep, KMEANS, {"min_segment_share": 0.11}) == 3  # the nearest smaller k
    assert "Not choosing k=4, 5, 6, 7: a segment holds under 11.0% of the customers" in caplog.text
    assert "Chose k=3 near the knee (k=4) of the inertia curve" in caplog.text
    tiny = sweep.assign(smallest_share=np.where(sweep["k"] <= 4, 0.001, 0.05))
    assert choose_k(tiny, KMEANS, CLUSTERING) == 5  # no smaller k passes: the nearest larger
    hopeless = sweep.assign(smallest_share=[0.01, 0.015, 0.005, 0.001, 0.0, 0.0])
    assert choose_k(hopeless, KMEANS, CLUSTERING) == 3  # none passes: the largest smallest one


def test_segment_ids_are_ordered_by_size_largest_first(blobs):
    model = train_kmeans(blobs, 4, KMEANS, "ID")
    segments = assign_segments(blobs, model, "ID")
    assert np.bincount(segments["segment"]).tolist() == [250, 150, 100, 60]
    assert segments["ID"].tolist() == blobs["ID"].tolist()
    assert (segments["segment"].to_numpy() == model.labels_).all()


def test_segment_ids_do_not_depend_on_the_random_seed(blobs):
    first = assign_segments(blobs, train_kmeans(blobs, 4, KMEANS, "ID"), "ID")
    for seed in (1, 2, 3):
        model = train_kmeans(blobs, 4, {**KMEANS, "random_state": seed}, "ID")
        pd.testing.assert_frame_equal(assign_segments(blobs, model, "ID"), first)


def test_equal_sizes_are_ordered_by_centroid():
    frame = pd.DataFrame({"ID": range(6), "x": [5.0, 5.1, 4.9, -5.0, -5.1, -4.9]})
    model = train_kmeans(frame, 2, KMEANS, "ID")
    assert model.cluster_centers_[:, 0].tolist() == pytest.approx([-5.0, 5.0])


def test_k_sweep_metrics_are_histories_stepped_by_k():
    k_selection = pd.DataFrame({"k": [2, 3], "inertia": [9.0, 4.0], "silhouette": [0.3, 0.5]})
    assert k_sweep_metrics(k_selection) == {
        "inertia": [{"value": 9.0, "step": 2}, {"value": 4.0, "step": 3}],
        "silhouette": [{"value": 0.3, "step": 2}, {"value": 0.5, "step": 3}],
    }
