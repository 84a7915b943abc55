"""K-Prototypes (Huang, 1997) for mixed numeric and categorical data.

A customer is a point with numeric features (scaled age, income) and categorical ones
(sex, occupation, city size as codes). The dissimilarity between a point and a prototype is

    squared Euclidean distance on the numeric features + gamma x number of mismatching categories

and the cost of a clustering is the sum of each point's dissimilarity to its prototype,
exactly as the ``kmodes`` package defines them (``kmodes.kprototypes.labels_cost``).

Two engines minimise that cost:

- ``fast`` (the default): kmodes' own algorithm, step for step (Huang's online updates:
  a prototype moves as soon as one of its points leaves or joins), compiled with numba and
  laid out in arrays instead of dictionaries. From the same start it gives the same labels
  and the same cost as kmodes. Each of the ``n_init`` runs starts
  from the best of ``CANDIDATE_SEEDINGS`` seedings after ``TRIAL_ITERATIONS`` iterations;
  the seedings alternate between kmodes' own start (Cao's categorical modes, numeric
  prototypes drawn from a normal distribution) and greedy k-means++ on the dissimilarity.
- ``kmodes``: the reference implementation, which loops over points in Python and moves
  prototypes after every single reassignment (Huang's online updates), initialised by Cao's
  method.

Both engines stop when no point moves or the cost stops falling, keep the best of
``n_init`` runs, and default ``gamma`` to kmodes' estimate, half the mean standard deviation
of the numeric features. ``docs/models.md`` shows the evidence that they solve the same
problem.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numba
import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

logger = logging.getLogger(__name__)

ENGINES = ("fast", "kmodes")
CANDIDATE_SEEDINGS = 6  # seedings tried by each run of the fast engine ...
TRIAL_ITERATIONS = 2  # ... for this many iterations, before the best one runs to convergence


class KPrototypes(ClusterMixin, BaseEstimator):
    """K-Prototypes clustering of mixed numeric and categorical data, with a choice of engine.

    ``X`` is one ``(n_samples, n_features)`` array; the columns listed in ``categorical``
    hold non-negative integer codes, the others numbers (as kmodes' ``categorical``
    argument). With no categorical column it is k-means with Huang's online updates; with
    no numeric column, k-modes.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of prototypes.
    categorical : sequence of int, default=()
        Indices of the categorical columns of ``X``.
    gamma : float or None, default=None
        Weight of one categorical mismatch against squared numeric distance; ``None`` for
        kmodes' estimate ``0.5 * mean(std of each numeric column)``.
    n_init : int, default=10
        Runs from different initial prototypes; the cheapest is kept.
    max_iter : int, default=100
        Maximum iterations of one run.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisations.
    engine : {"fast", "kmodes"}, default="fast"
        ``fast``: this module's compiled engine; ``kmodes``: the reference package.
    n_jobs : int or None, default=None
        Threads running the ``n_init`` runs of the fast engine at once (its compiled loop
        releases the GIL); ``None`` is 1, ``-1`` every core. The runs' starting points are
        drawn in the serial order first, so any ``n_jobs`` gives the serial result.

    Attributes
    ----------
    numeric_centroids_ : ndarray of shape (n_clusters, n_numeric)
        Numeric part of the prototypes.
    categorical_centroids_ : ndarray of shape (n_clusters, n_categorical)
        Categorical part of the prototypes (codes).
    cluster_centroids_ : ndarray of shape (n_clusters, n_features)
        Both parts in the columns of ``X``.
    gamma_ : float
        The gamma used.
    labels_ : ndarray of shape (n_samples,)
        The prototype of each training sample.
    cost_ : float
        Sum of each sample's dissimilarity to its prototype.
    n_iter_ : int
        Iterations of the kept run.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    See Also
    --------
    kmodes.kprototypes.KPrototypes : The reference implementation (``engine="kmodes"``).
    sklearn.cluster.KMeans : The numeric-only analogue.

    Examples
    --------
    >>> import numpy as np
    >>> from customer_segmentation.kprototypes import KPrototypes
    >>> X = np.array([[0.0, 0], [0.1, 0], [0.2, 0], [5.0, 1], [5.1, 1], [5.2, 1]])
    >>> model = KPrototypes(n_clusters=2, categorical=[1], n_init=2, random_state=0).fit(X)
    >>> sorted(np.bincount(model.labels_).tolist())
    [3, 3]
    >>> bool(model.predict([[5.05, 1]])[0] == model.labels_[-1])
    True
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "categorical": ["array-like"],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "engine": [StrOptions(set(ENGINES))],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self, n_clusters: int = 8, *, categorical: Sequence[int] = (), gamma: float | None = None,
        n_init: int = 10, max_iter: int = 100, random_state: Any = None, engine: str = "fast",
        n_jobs: int | None = None,
    ) -> None:  # fmt: skip
        self.n_clusters = n_clusters
        self.categorical = categorical
        self.gamma = gamma
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state
        self.engine = engine
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None, init: tuple[np.ndarray, np.ndarray] | None = None):
        """Cluster the samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numbers, and non-negative integer codes in the ``categorical`` columns.
        y : None
            Ignored.
        init : tuple of (numeric, categorical) prototypes, default=None
            Initial prototypes; then a single run.

        Returns
        -------
        self : KPrototypes
            The fitted model.
        """
        X = validate_data(self, X, dtype=np.float64)
        numeric, categorical = self._split(X)
        if len(X) < self.n_clusters:
            raise ValueError(f"n_samples={len(X)} should be >= n_clusters={self.n_clusters}.")
        if self.gamma is not None:
            self.gamma_ = float(self.gamma)
        else:
            self.gamma_ = float(0.5 * numeric.std(axis=1).mean()) if len(numeric) else 1.0
        started = time.perf_counter()
        fit = _fit_kmodes if self.engine == "kmodes" else _fit_fast
        result = fit(self, numeric, categorical, init)
        self.numeric_centroids_, self.categorical_centroids_ = result.centroids
        self.labels_, self.cost_, self.n_iter_ = result.labels, result.cost, result.n_iter
        logger.info(
            "K-Prototypes (%s engine) k=%d on %d points: cost %.6g after %d iterations, %.2f s",
            self.engine, self.n_clusters, len(X), self.cost_, self.n_iter_,
            time.perf_counter() - started,
        )  # fmt: skip
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The nearest prototype of each sample (the lowest index on a tie).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples laid out as in ``fit``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of each sample's prototype.
        """
        check_is_fitted(self)
        numeric, categorical = self._split(validate_data(self, X, dtype=np.float64, reset=False))
        centroids = (self.numeric_centroids_, self.categorical_centroids_)
        return _dissimilarities(numeric, categorical, centroids, self.gamma_).argmin(axis=0)

    @property
    def cluster_centroids_(self) -> np.ndarray:
        """The prototypes in the columns of ``X``."""
        check_is_fitted(self)
        centroids = np.empty((self.n_clusters, self.n_features_in_))
        categorical = self._categorical_columns()
        numeric = np.setdiff1d(np.arange(self.n_features_in_), categorical)
        centroids[:, numeric] = self.numeric_centroids_
        centroids[:, categorical] = self.categorical_centroids_
        return centroids

    def renumber(self, order: np.ndarray) -> None:
        """Renumber the prototypes in place: new prototype ``i`` is old ``order[i]``."""
        new_label = np.empty_like(order)
        new_label[order] = np.arange(len(order))
        self.numeric_centroids_ = self.numeric_centroids_[order]
        self.categorical_centroids_ = self.categorical_centroids_[order]
        self.labels_ = new_label[self.labels_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        return tags

    def _categorical_columns(self) -> np.ndarray:
        columns = np.asarray(self.categorical, dtype=np.int64).reshape(-1)
        if len(np.unique(columns)) != len(columns):
            raise ValueError(f"categorical lists a column twice: {list(self.categorical)}")
        return columns

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The numeric and the categorical columns, each laid out a row per feature."""
        categorical = self._categorical_columns()
        if ((categorical < 0) | (categorical >= X.shape[1])).any():
            raise ValueError(
                f"categorical indices {list(self.categorical)} are outside the "
                f"{X.shape[1]} columns of X"
            )
        codes = X[:, categorical]
        if (codes < 0).any() or (codes != np.floor(codes)).any():
            raise ValueError("categorical columns must hold non-negative integer codes")
        numeric = np.delete(X, categorical, axis=1)
        return (np.ascontiguousarray(numeric.T),
                np.ascontiguousarray(codes.T.astype(np.int32)))  # fmt: skip


@dataclass
class _Run:
    centroids: tuple[np.ndarray, np.ndarray]
    labels: np.ndarray
    cost: float
    n_iter: int


def _dissimilarities(
    numeric: np.ndarray, categorical: np.ndarray, centroids: tuple[np.ndarray, np.ndarray],
    gamma: float,
) -> np.ndarray:  # fmt: skip
    """``(n_clusters, n_points)`` dissimilarities of column-laid-out points to prototypes.

    Summed feature by feature in kmodes' order, so the values equal ``labels_cost``'s.
    """
    numeric_centroids, categorical_centroids = centroids
    result = np.zeros((len(numeric_centroids), numeric.shape[1]))
    mismatches = np.empty(numeric.shape[1], dtype=np.int32)
    for k, (center, modes) in enumerate(zip(numeric_centroids, categorical_centroids, strict=True)):
        for column, value in zip(numeric, center, strict=True):
            difference = column - value
            result[k] += difference * difference
        mismatches[:] = 0
        for column, mode in zip(categorical, modes, strict=True):
            mismatches += column != mode
        result[k] += gamma * mismatches
    return result


def _fit_fast(
    model: KPrototypes, numeric: np.ndarray, categorical: np.ndarray,
    init: tuple[np.ndarray, np.ndarray] | None,
) -> _Run:  # fmt: skip
    rng = np.random.default_rng(_seed(model.random_state))
    k, gamma = model.n_clusters, model.gamma_
    points = (np.ascontiguousarray(numeric.T), np.ascontiguousarray(categorical.T))
    n_levels = int(categorical.max()) + 1 if categorical.size else 1
    if init is not None:
        return _run(points, n_levels, init, gamma, model.max_iter)
    # Every run's seedings first, in the serial order of the random draws; then the runs,
    # which draw nothing, on n_jobs threads: the same runs, whatever the number of threads.
    seedings = [_seedings(numeric, categorical, k, gamma, rng) for _ in range(model.n_init)]

    def one_run(candidates: list[tuple[np.ndarray, np.ndarray]]) -> _Run:
        trials = [_run(points, n_levels, seeding, gamma, TRIAL_ITERATIONS)
                  for seeding in candidates]  # fmt: skip
        start = min(trials, key=lambda trial: trial.cost).centroids
        return _run(points, n_levels, start, gamma, model.max_iter)

    threads = min(effective_n_jobs(model.n_jobs), model.n_init)
    if threads == 1:
        runs = [one_run(candidates) for candidates in seedings]
    else:
        with ThreadPoolExecutor(threads) as pool:
            runs = list(pool.map(one_run, seedings))  # in run order
    return min(runs, key=lambda run: run.cost)  # the first of equal costs


def _seed(random_state: Any) -> Any:
    """A seed for NumPy's ``default_rng``: an int or None as given; a ``RandomState``'s draw."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return random_state


def _seedings(
    numeric: np.ndarray, categorical: np.ndarray, k: int, gamma: float, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``CANDIDATE_SEEDINGS`` initial prototypes: kmodes' start and k-means++, alternately."""
    cao_modes = _cao_modes(categorical, k)
    mean, std = numeric.mean(axis=1), numeric.std(axis=1)
    seedings = []
    for candidate in range(CANDIDATE_SEEDINGS):
        if candidate % 2 == 0:
            seedings.append((mean + rng.standard_normal((k, len(numeric))) * std, cao_modes))
        else:
            seedings.append(_kmeans_plus_plus(numeric, categorical, k, gamma, rng))
    return seedings


def _run(
    points: tuple[np.ndarray, np.ndarray], n_levels: int, start: tuple[np.ndarray, np.ndarray],
    gamma: float, max_iter: int,
) -> _Run:  # fmt: skip
    numeric_centroids = np.array(start[0], dtype=np.float64)
    categorical_centroids = np.array(start[1], dtype=np.int32)
    if categorical_centroids.size:
        n_levels = max(n_levels, int(categorical_centroids.max()) + 1)
    labels, cost, n_iter = _huang(
        *points, numeric_centroids, categorical_centroids, n_levels, gamma, max_iter
    )
    return _Run((numeric_centroids, categorical_centroids.astype(np.int64)), labels, cost, n_iter)


@numba.njit(cache=True)
def _nearest(numeric, categorical, point, numeric_centroids, categorical_centroids, gamma):
    """The nearest prototype to one point (the first of equal ones) and kmodes' dissimilarity
    to it: squared distance plus ``gamma`` times the mismatches, summed in kmodes' order.

    A prototype is left as soon as its squared distance alone reaches the best so far: every
    term is non-negative, so its sum can only grow, and the nearest one and its dissimilarity
    are those of summing everything (about twice as fast on the benchmark's table).
    """
    best, best_distance = 0, np.inf
    for k in range(numeric_centroids.shape[0]):
        squared = 0.0
        for feature in range(numeric.shape[1]):
            difference = numeric[point, feature] - numeric_centroids[k, feature]
            squared += difference * difference
        if squared >= best_distance:
            continue
        mismatches = 0
        for feature in range(categorical.shape[1]):
            if categorical[point, feature] != categorical_centroids[k, feature]:
                mismatches += 1
        distance = squared + gamma * mismatches
        if distance < best_distance:
            best, best_distance = k, distance
    return best, best_distance


@numba.njit(cache=True)
def _labels_cost(numeric, categorical, numeric_centroids, categorical_centroids, gamma):
    labels = np.empty(numeric.shape[0], dtype=np.int64)
    cost = 0.0
    for point in range(numeric.shape[0]):
        labels[point], distance = _nearest(
            numeric, categorical, point, numeric_centroids, categorical_centroids, gamma
        )
        cost += distance
    return labels, cost


@numba.njit(cache=True)
def _mode(counts):
    """The most frequent code; the lowest on a tie (kmodes' ``get_max_value_key``)."""
    best = 0
    for code in range(1, counts.shape[0]):
        if counts[code] > counts[best]:
            best = code
    return best


@numba.njit(cache=True, nogil=True)
def _huang(numeric, categorical, numeric_centroids, categorical_centroids, n_levels, gamma,
           max_iter):  # fmt: skip
    """One run of kmodes' ``_k_prototypes_single`` from the given prototypes, compiled.

    Updates ``numeric_centroids`` and ``categorical_centroids`` in place. Step for step as
    kmodes: assign every point to its nearest start prototype, move prototypes to means and
    modes, then iterate: visit the points in order and, whenever one is nearer another
    prototype, move it and update both prototypes at once (Huang's online update). Stop when
    no point moves or the cost stops falling. One departure: a cluster emptied by a move takes
    the first point of the largest cluster, where kmodes takes a random one.
    """
    n_points, n_numeric = numeric.shape
    n_clusters, n_categorical = categorical_centroids.shape
    member = np.empty(n_points, dtype=np.int64)
    sums = np.zeros((n_clusters, n_numeric))
    sizes = np.zeros(n_clusters, dtype=np.int64)
    counts = np.zeros((n_clusters, n_categorical, n_levels), dtype=np.int64)
    for point in range(n_points):
        cluster, _ = _nearest(
            numeric, categorical, point, numeric_centroids, categorical_centroids, gamma
        )
        member[point] = cluster
        sizes[cluster] += 1
        for feature in range(n_numeric):
            sums[cluster, feature] += numeric[point, feature]
        for feature in range(n_categorical):
            counts[cluster, feature, categorical[point, feature]] += 1
    for cluster in range(n_clusters):  # fill clusters the start left empty
        if sizes[cluster] == 0:
            _move(numeric, categorical, _first_member(member, sizes.argmax()), cluster, member,
                  sums, sizes, counts, categorical_centroids)  # fmt: skip
    for cluster in range(n_clusters):
        for feature in range(n_numeric):
            numeric_centroids[cluster, feature] = sums[cluster, feature] / sizes[cluster]
        for feature in range(n_categorical):
            categorical_centroids[cluster, feature] = _mode(counts[cluster, feature])
    labels, cost = _labels_cost(
        numeric, categorical, numeric_centroids, categorical_centroids, gamma
    )
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        moves = 0
        for point in range(n_points):
            cluster, _ = _nearest(
                numeric, categorical, point, numeric_centroids, categorical_centroids, gamma
            )
            old = member[point]
            if cluster == old:
                continue
            moves += 1
            _move(numeric, categorical, point, cluster, member, sums, sizes, counts,
                  categorical_centroids)  # fmt: skip
            for changed in (cluster, old):
                for feature in range(n_numeric):
                    numeric_centroids[changed, feature] = (
                        sums[changed, feature] / sizes[changed] if sizes[changed] else 0.0
                    )
            if sizes[old] == 0:
                _move(numeric, categorical, _first_member(member, sizes.argmax()), old, member,
                      sums, sizes, counts, categorical_centroids)  # fmt: skip
        labels, new_cost = _labels_cost(
            numeric, categorical, numeric_centroids, categorical_centroids, gamma
        )
        converged = moves == 0 or new_cost >= cost
        cost = new_cost
        if converged:
            break
    return labels, cost, n_iter


@numba.njit(cache=True)
def _first_member(member, cluster):
    for point in range(member.shape[0]):
        if member[point] == cluster:
            return point
    return -1


@numba.njit(cache=True)
def _move(numeric, categorical, point, to, member, sums, sizes, counts, categorical_centroids):
    """Move a point between clusters: sums, sizes, counts and modes as kmodes updates them."""
    source = member[point]
    member[point] = to
    for feature in range(numeric.shape[1]):
        sums[to, feature] += numeric[point, feature]
        sums[source, feature] -= numeric[point, feature]
    sizes[to] += 1
    sizes[source] -= 1
    for feature in range(categorical.shape[1]):
        code = categorical[point, feature]
        counts[to, feature, code] += 1
        if counts[to, feature, categorical_centroids[to, feature]] < counts[to, feature, code]:
            categorical_centroids[to, feature] = code
        counts[source, feature, code] -= 1
        if categorical_centroids[source, feature] == code:
            categorical_centroids[source, feature] = _mode(counts[source, feature])


def _cao_modes(categorical: np.ndarray, k: int) -> np.ndarray:
    """Cao's initial modes, as ``kmodes.util.init_methods.init_cao``, vectorised.

    The densest point first (density: mean relative frequency of its values), then each
    time the point maximising density x mismatches to its nearest chosen mode.
    """
    m, n = categorical.shape
    if m == 0:
        return np.empty((k, 0), dtype=categorical.dtype)
    density = sum(np.bincount(column)[column] for column in categorical) / (n * m)
    chosen = [int(density.argmax())]
    closest = (categorical != categorical[:, chosen[:1]]).sum(axis=0) * density
    for _ in range(1, k):
        chosen.append(int(closest.argmax()))
        mismatches = (categorical != categorical[:, chosen[-1:]]).sum(axis=0)
        closest = np.minimum(closest, mismatches * density)
    return categorical[:, chosen].T.copy()


def _kmeans_plus_plus(
    numeric: np.ndarray, categorical: np.ndarray, k: int, gamma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-means++ seeding (as scikit-learn's) under the K-Prototypes dissimilarity."""
    n = numeric.shape[1]
    candidates_per_step = 2 + int(np.log(k))

    def points(indices: list[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return numeric[:, indices].T.copy(), categorical[:, indices].T.copy()

    chosen = [int(rng.integers(n))]
    closest = _dissimilarities(numeric, categorical, points(chosen), gamma)[0]
    for _ in range(1, k):
        total = closest.sum()
        probabilities = closest / total if total > 0 else None
        candidates = rng.choice(n, size=candidates_per_step, p=probabilities)
        to_candidates = _dissimilarities(numeric, categorical, points(candidates), gamma)
        candidate_closest = np.minimum(closest, to_candidates)
        best = int(candidate_closest.sum(axis=1).argmin())
        chosen.append(int(candidates[best]))
        closest = candidate_closest[best]
    return points(chosen)


def _fit_kmodes(
    model: KPrototypes, numeric: np.ndarray, categorical: np.ndarray,
    init: tuple[np.ndarray, np.ndarray] | None,
) -> _Run:  # fmt: skip
    """Fit with the reference ``kmodes`` package (single process, as measured)."""
    from kmodes.kprototypes import KPrototypes as ReferenceKPrototypes

    reference = ReferenceKPrototypes(
        n_clusters=model.n_clusters, gamma=model.gamma_, max_iter=model.max_iter,
        n_init=1 if init is not None else model.n_init, random_state=model.random_state,
        init=list(init) if init is not None else "Cao", n_jobs=1,
    )  # fmt: skip
    n_numeric = len(numeric)
    columns = list(range(n_numeric, n_numeric + len(categorical)))
    reference.fit(np.vstack([numeric, categorical]).T, categorical=columns)
    prototypes = reference.cluster_centroids_
    centroids = (
        prototypes[:, :n_numeric].astype(np.float64),
        prototypes[:, n_numeric:].astype(np.float64).astype(np.int64),
    )
    return _Run(centroids, reference.labels_.astype(np.int64), float(reference.cost_),
                int(reference.n_iter_))  # fmt: skip
