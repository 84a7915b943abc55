"""Rules about segments, one each: numbering, nearest centre, the choice of k, profiles, names.

Pipelines, the segmenter and the API take these rules from here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.features import FeatureSpec
from customer_segmentation.threads import on_threads

logger = logging.getLogger(__name__)
ALL_CUSTOMERS = -1  # the profile row of the whole population
_BROADCAST_LIMIT = 65_536  # points x centres x features that `nearest` computes in one go
_BLOCK_ROWS = 32_768  # rows per block of a larger `nearest`, each on a thread of its own


@dataclass(frozen=True)
class KMeansCentres:
    """A K-Means fit given as its centres (exported from a Spark model), under
    scikit-learn's attribute names: the segmenter, the report and the notebooks read it as
    they read a ``sklearn`` ``KMeans``.

    Attributes:
        cluster_centers_: The centres, ``(k, n_features)``, in the stable segment order.
        inertia_: Sum of squared distances of every row to its centre.
        sizes: Customers per segment.
    """

    cluster_centers_: np.ndarray
    inertia_: float
    sizes: tuple[int, ...]

    @property
    def n_clusters(self) -> int:
        """Number of segments."""
        return len(self.cluster_centers_)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The nearest centre of each row."""
        return nearest(np.asarray(features, dtype=np.float64), self.cluster_centers_)


def segment_order(labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The stable numbering of clusters: new id ``i`` is old cluster ``order[i]``.

    Largest cluster first; equal sizes are ordered by their centroids' coordinates, so reruns
    on the same data give the same ids even where the algorithm numbers clusters otherwise.
    """
    return segment_order_by_sizes(np.bincount(labels, minlength=len(centroids)), centroids)


def segment_order_by_sizes(sizes: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """``segment_order`` from each cluster's size (a fit that gives sizes, not labels)."""
    return np.lexsort([*np.asarray(centroids, dtype=float).T[::-1], -np.asarray(sizes)])


def nearest(points: np.ndarray, centres: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """Index of the nearest centre by squared Euclidean distance (plus ``extra``).

    Summed feature by feature, then ``extra``, in the order kmodes sums K-Prototypes'
    dissimilarity; the lowest index wins a tie, as in scikit-learn and kmodes. Small inputs
    (a request) take one broadcast NumPy expression; large ones (a batch) are cut in blocks
    of rows, computed on every core, each by a loop over features that keeps memory at one
    ``(block, n_centres)`` array in the CPU's cache. Both add in the same order, so they give
    the same bits.
    """
    if 0 < points.size * len(centres) <= _BROADCAST_LIMIT:
        squares = points[:, None, :] - centres
        squares *= squares
        distances = np.add.accumulate(squares, axis=2)[:, :, -1]
        return (distances if extra is None else distances + extra).argmin(axis=1)
    labels = np.empty(len(points), dtype=np.intp)

    def label(start: int) -> None:
        rows = slice(start, start + _BLOCK_ROWS)
        distances = np.zeros((len(labels[rows]), len(centres)))
        for feature in range(points.shape[1]):
            difference = points[rows, feature, None] - centres[None, :, feature]
            distances += difference * difference
        if extra is not None:
            distances += extra[rows]
        labels[rows] = distances.argmin(axis=1)

    on_threads(label, range(0, len(points), _BLOCK_ROWS))
    return labels


def smallest_share(labels: np.ndarray, k: int) -> float:
    """The share of customers in the smallest of ``k`` segments (0 for an empty one)."""
    return float(np.bincount(labels, minlength=k).min() / max(len(labels), 1))


def pick_k(
    sweep: pd.DataFrame, settings: Mapping[str, Any], curve: str, quality: str,
    min_segment_share: float = 0.0,
) -> int:  # fmt: skip
    """The number of segments: ``settings["k"]`` if an integer, else the knee of ``curve``.

    ``auto`` takes the knee of the ``curve`` column against k found by kneed (convex,
    decreasing, sensitivity ``knee_sensitivity``; kneed's offline mode returns the first knee,
    the smallest such k). Without a knee, the k with the best ``quality`` wins, the smaller k
    on a tie. A k whose smallest segment holds less than ``min_segment_share`` of the
    customers (the sweep's ``smallest_share``) is never chosen: the knee gives way to the
    nearest smaller k that passes, else the nearest larger one; when no k passes, the k
    whose smallest segment is largest wins.
    """
    from kneed import KneeLocator

    if settings["k"] != "auto":
        k = int(settings["k"])
        if k < 2:
            raise ValueError(f"k must be at least 2 or 'auto', got {settings['k']!r}")
        logger.info("Using k=%d from the parameters", k)
        return k
    sweep = sweep.sort_values("k")
    shares = sweep["smallest_share"] if "smallest_share" in sweep else pd.Series(1.0, sweep.index)
    passing = sweep[shares >= min_segment_share]
    tiny = sweep.loc[shares < min_segment_share, "k"].tolist()
    if tiny:
        logger.info(
            "Not choosing k=%s: a segment holds under %.1f%% of the customers "
            "(min_segment_share)", ", ".join(map(str, tiny)), 100 * min_segment_share,
        )  # fmt: skip
    if passing.empty:
        best = int(sweep.loc[shares.idxmax(), "k"])
        logger.warning("Every k has a segment under min_segment_share; chose k=%d, whose "
                       "smallest segment is largest", best)  # fmt: skip
        return best
    knee = KneeLocator(
        sweep["k"], sweep[curve], S=settings["knee_sensitivity"],
        curve="convex", direction="decreasing",
    ).knee  # fmt: skip
    if knee is not None:
        allowed = passing["k"].astype(int)
        below, above = allowed[allowed <= knee], allowed[allowed > knee]
        k = int(below.max()) if len(below) else int(above.min())
        logger.info("Chose k=%d %s of the %s curve", k,
                    "at the knee" if k == knee else f"near the knee (k={knee})", curve)  # fmt: skip
        return k
    best = passing.loc[passing[quality].idxmax(), "k"]  # idxmax keeps the first (smaller k)
    logger.info("No knee in the %s curve; chose k=%d with the highest %s", curve, best, quality)
    return int(best)


def profile_segments(
    customers: pd.DataFrame, segments: pd.DataFrame, spec: FeatureSpec,
    as_of: float | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Describe each segment in the raw units and legend labels of ``conf/``.

    Args:
        customers: Valid customers (raw units).
        segments: Identifier and segment of each customer.
        spec: The feature specification (the columns profiled and their legends).
        as_of: The day dates count up to (``FittedFeatures.as_of``), for derived features.

    Returns:
        One row per segment, and a last row (``segment`` = -1) for all customers: ``size``,
        ``share``, ``<numeric> mean``, ``median`` and ``std``, and for each categorical code
        ``<column>: <label>``, the share of the segment's customers with that code.
    """
    merged = spec.with_derived(customers, as_of).merge(segments, on=spec.id_column,
                                                validate="one_to_one")  # fmt: skip
    groups = [(int(k), group) for k, group in merged.groupby("segment", sort=True)]
    groups.append((ALL_CUSTOMERS, merged))
    return pd.DataFrame([_profile(k, group, len(merged), spec) for k, group in groups])


def name_segments(
    profiles: pd.DataFrame, spec: FeatureSpec, naming: Mapping[str, Any],
    fixed_names: Mapping[Any, str] | None = None,
) -> dict[int, str]:  # fmt: skip
    """Name each segment after the traits that most set it apart from all customers.

    A trait's effect is standardised so that numbers and categories compare: for a numeric
    column, (segment mean - overall mean) / overall standard deviation; for a category,
    (segment share - overall share) / sqrt(overall share x (1 - overall share)). The
    ``max_traits`` largest effects of at least ``min_effect`` (over-represented categories
    only) make the name, largest first: "Older · Higher income · Big city". A segment with
    no such trait is "Typical customers". Where two segments would share a name, the next
    trait is added until they differ, and as a last resort the id. ``fixed_names`` win.

    Returns:
        Segment id to name.
    """
    overall = profiles.set_index("segment").loc[ALL_CUSTOMERS]
    traits = {
        int(row["segment"]): _ranked_traits(row, overall, spec, naming)
        for _, row in profiles.iterrows() if row["segment"] != ALL_CUSTOMERS
    }  # fmt: skip
    names = {}
    for k, ranked in traits.items():
        count = naming["max_traits"]
        others = [t for j, t in traits.items() if j != k]
        while count < len(ranked) and any(o[:count] == ranked[:count] for o in others):
            count += 1
        words = [word for word, _ in ranked[:count]]
        name = " · ".join(words)
        names[k] = name[:1].upper() + name[1:] if words else "Typical customers"
    for k, name in list(names.items()):
        if list(names.values()).count(name) > 1:
            names[k] = f"{name} (segment {k})"
    names.update({int(k): str(v) for k, v in (fixed_names or {}).items() if int(k) in names})
    for k, name in names.items():
        logger.info("Segment %d: %s", k, name)
    return names


def segment_name(segment: int, names: Mapping[Any, str]) -> str:
    """A segment's name in ``names`` (keys may be JSON text), else ``Segment <id>``."""
    return names.get(segment, names.get(str(segment), f"Segment {segment}"))


def _profile(k: int, group: pd.DataFrame, total: int, spec: FeatureSpec) -> dict[str, Any]:
    row: dict[str, Any] = {"segment": k, "size": len(group), "share": len(group) / total}
    for name in spec.numeric:
        values, sentinels = group[name], spec.sentinels(name)
        for value, label in sentinels.items():  # a share, like a code's; no amount
            row[f"{name}: {label}"] = float((values == value).mean()) if len(values) else 0.0
        if sentinels:
            values = values[~values.isin(list(sentinels))]
        row[f"{name} mean"] = float(values.mean())
        row[f"{name} median"] = float(values.median())
        row[f"{name} std"] = float(values.std(ddof=0))
    for name in spec.categorical:
        shares = group[name].value_counts(normalize=True)
        for code, label in spec.schema.columns[name].codes.items():
            row[f"{name}: {label}"] = float(shares.get(code, 0.0))
    return row


def _ranked_traits(
    row: pd.Series, overall: pd.Series, spec: FeatureSpec, naming: Mapping[str, Any]
) -> list[tuple[str, float]]:
    """(word, effect) of every trait with effect >= min_effect, largest effect first."""
    traits = []
    for name in spec.numeric:
        spread = overall[f"{name} std"] or 1.0
        effect = (row[f"{name} mean"] - overall[f"{name} mean"]) / spread
        title = spec.title(name)
        low, high = (naming.get("words") or {}).get(name, [f"low {title}", f"high {title}"])
        traits.append((high if effect > 0 else low, abs(effect)))
    labelled = [(name, label) for name in spec.numeric for label in spec.sentinels(name).values()]
    labelled += [(name, label) for name in spec.categorical
                 for label in spec.schema.columns[name].codes.values()]  # fmt: skip
    for name, label in labelled:
        share, base = row[f"{name}: {label}"], overall[f"{name}: {label}"]
        if 0 < base < 1:
            traits.append((label, (share - base) / np.sqrt(base * (1 - base))))
    strong = [(word, effect) for word, effect in traits if effect >= naming["min_effect"]]
    return sorted(strong, key=lambda trait: -trait[1])
