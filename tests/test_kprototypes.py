"""The fast K-Prototypes engine solves kmodes' problem: same cost formula, same or lower cost.

kmodes loops over points in Python, so the data here is small (a few hundred rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kmodes.kprototypes import KPrototypes as ReferenceKPrototypes
from kmodes.kprototypes import labels_cost
from kmodes.util.dissim import euclidean_dissim, matching_dissim
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from customer_segmentation.kprototypes import KPrototypes

NUMERIC = ["Age", "Income"]
CATEGORICAL = ["Sex", "Marital status", "Education", "Occupation", "Settlement size"]
KS = range(2, 9)
N_INIT = 5


def _mixed(customers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    numeric = customers[NUMERIC].to_numpy(dtype="float64")
    return (numeric - numeric.mean(axis=0)) / numeric.std(axis=0), customers[CATEGORICAL].to_numpy()


def _synthetic(rows: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Three mixed groups: shifted numeric blobs with their own favourite categories."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, rows)
    numeric = rng.normal(group[:, None] * 1.5, 1.0, (rows, 2))
    favourite = rng.random((rows, 4)) < 0.7
    categorical = np.where(favourite, group[:, None], rng.integers(0, 3, (rows, 4)))
    return numeric, categorical


@pytest.fixture(scope="module", params=["reference", "synthetic"])
def mixed(request) -> tuple[np.ndarray, np.ndarray]:
    """400 rows of the reference data (skipped where absent), or of seeded synthetic data."""
    if request.param == "synthetic":
        return _synthetic()
    reference = request.getfixturevalue("reference_customers")
    return _mixed(reference.sample(n=400, random_state=1))


def _estimator(numeric: np.ndarray, categorical: np.ndarray, k: int, **settings):
    """The estimator and its ``X``: numeric columns first, then the categorical ones."""
    columns = list(range(numeric.shape[1], numeric.shape[1] + categorical.shape[1]))
    return KPrototypes(k, categorical=columns, **settings), np.hstack([numeric, categorical])


def _kmodes_cost(numeric, categorical, model: KPrototypes) -> float:
    centroids = (model.numeric_centroids_, model.categorical_centroids_)
    return labels_cost(numeric, categorical, centroids, euclidean_dissim, matching_dissim,
                       model.gamma_)[1]  # fmt: skip


@pytest.mark.parametrize("k", KS)
def test_fast_best_cost_is_at_most_kmodes_best_cost(mixed, k):
    numeric, categorical = mixed
    fast, X = _estimator(numeric, categorical, k, n_init=N_INIT, random_state=0)
    reference, _ = _estimator(numeric, categorical, k, n_init=N_INIT, random_state=0,
                              engine="kmodes")  # fmt: skip
    fast.fit(X)
    reference.fit(X)
    assert fast.gamma_ == reference.gamma_ == pytest.approx(0.5 * numeric.std(axis=0).mean())
    fast_cost, reference_cost = (_kmodes_cost(numeric, categorical, m) for m in (fast, reference))
    assert fast.cost_ == pytest.approx(fast_cost, rel=1e-12)
    assert fast_cost <= reference_cost * 1.01


@pytest.mark.parametrize("k", KS)
def test_from_the_same_start_both_engines_give_the_same_labels(mixed, k):
    """The fast engine uses kmodes' update rule, so labels and cost are identical."""
    numeric, categorical = mixed
    rows = np.random.default_rng(k).choice(len(numeric), size=k, replace=False)
    start = (numeric[rows] + 0.1, categorical[rows])
    fast, X = _estimator(numeric, categorical, k)
    reference, _ = _estimator(numeric, categorical, k, engine="kmodes")
    fast.fit(X, init=start)
    reference.fit(X, init=start)
    np.testing.assert_array_equal(fast.labels_, reference.labels_)
    assert fast.cost_ == reference.cost_ and fast.n_iter_ == reference.n_iter_
    np.testing.assert_array_equal(fast.categorical_centroids_, reference.categorical_centroids_)
    np.testing.assert_allclose(fast.numeric_centroids_, reference.numeric_centroids_, rtol=1e-12)
    assert adjusted_rand_score(fast.labels_, reference.labels_) == 1.0


@pytest.mark.parametrize("n_jobs", [2, -1])
def test_runs_on_several_threads_give_the_serial_result(mixed, n_jobs):
    """n_init runs in parallel: the same labels, cost and prototypes as one thread."""
    numeric, categorical = mixed
    serial, X = _estimator(numeric, categorical, 4, n_init=4, random_state=3)
    parallel, _ = _estimator(numeric, categorical, 4, n_init=4, random_state=3, n_jobs=n_jobs)
    serial.fit(X)
    parallel.fit(X)
    np.testing.assert_array_equal(parallel.labels_, serial.labels_)
    assert parallel.cost_ == serial.cost_ and parallel.n_iter_ == serial.n_iter_
    np.testing.assert_array_equal(parallel.numeric_centroids_, serial.numeric_centroids_)
    np.testing.assert_array_equal(parallel.categorical_centroids_, serial.categorical_centroids_)


def test_kmodes_engine_is_the_kmodes_package(mixed):
    numeric, categorical = mixed
    ours, X = _estimator(numeric, categorical, 4, n_init=2, random_state=5, engine="kmodes")
    ours.fit(X)
    theirs = ReferenceKPrototypes(4, n_init=2, random_state=5, init="Cao", n_jobs=1).fit(
        np.hstack([numeric, categorical]), categorical=list(range(2, 2 + categorical.shape[1]))
    )
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.cost_ == theirs.cost_


def test_predict_gives_kmodes_label_for_the_same_point(mixed):
    numeric, categorical = mixed
    model, X = _estimator(numeric, categorical, 5, n_init=2, random_state=0)
    model.fit(X)
    centroids = (model.numeric_centroids_, model.categorical_centroids_)
    kmodes_labels, _ = labels_cost(
        numeric, categorical, centroids, euclidean_dissim, matching_dissim, model.gamma_
    )
    np.testing.assert_array_equal(model.predict(X), kmodes_labels)
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_renumber_keeps_predictions_consistent():
    numeric, categorical = _synthetic()
    model, X = _estimator(numeric, categorical, 3, n_init=2, random_state=0)
    before = model.fit(X).predict(X)
    model.renumber(np.array([2, 0, 1]))
    after = model.predict(X)
    np.testing.assert_array_equal(after, np.array([1, 2, 0])[before])
    np.testing.assert_array_equal(after, model.labels_)


def test_explicit_gamma_is_used():
    numeric, categorical = _synthetic()
    model, X = _estimator(numeric, categorical, 3, gamma=2.5, n_init=1)
    assert model.fit(X).gamma_ == 2.5


def test_empty_clusters_are_refilled():
    numeric, categorical = _synthetic(rows=60)
    far_away = (np.full((3, 2), 1e6), np.zeros((3, 4), dtype=int))  # all points join one
    model, X = _estimator(numeric, categorical, 3)
    model.fit(X, init=far_away)
    assert len(np.unique(model.labels_)) == 3


@pytest.mark.parametrize(
    ("X", "categorical", "message"),
    [
        (np.zeros((5, 2)), [0, 0], "categorical lists a column twice"),
        (np.zeros((5, 2)), [2], "outside the 2 columns of X"),
        (np.full((5, 2), -1.0), [1], "non-negative integer codes"),
        (np.full((5, 2), 0.5), [1], "non-negative integer codes"),
        (np.zeros((2, 2)), [1], "n_samples=2 should be >= n_clusters=3"),
    ],
)
def test_bad_input_is_refused(X, categorical, message):
    with pytest.raises(ValueError, match=message):
        KPrototypes(3, categorical=categorical).fit(X)


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="'engine' parameter of KPrototypes must be a str among"):
        KPrototypes(2, engine="numba").fit(np.zeros((4, 2)))


def test_numeric_only_and_categorical_only_data_are_k_means_and_k_modes():
    numeric, categorical = _synthetic()
    kmeans_like = KPrototypes(3, n_init=2, random_state=0).fit(numeric)
    assert kmeans_like.categorical_centroids_.shape == (3, 0)
    kmodes_like = KPrototypes(3, categorical=[0, 1, 2, 3], n_init=2, random_state=0)
    assert kmodes_like.fit(categorical).numeric_centroids_.shape == (3, 0)
    assert kmodes_like.cluster_centroids_.shape == (3, 4)


@parametrize_with_checks([KPrototypes(3, n_init=2, random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    """Every scikit-learn estimator check passes, none excluded.

    They run with ``categorical=()``: the checks draw arbitrary floats for every column, which
    a categorical column rightly refuses (codes are non-negative integers), so no check can
    apply to categorical columns. Those are covered by the tests above against kmodes.
    """
    check(estimator)
