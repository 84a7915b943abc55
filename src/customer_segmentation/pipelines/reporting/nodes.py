"""Nodes that profile the served model's segments and name them."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from customer_segmentation.schema import RawSchema

logger = logging.getLogger(__name__)


def served_segments(
    customer_segments: pd.DataFrame, kprototypes_segments: pd.DataFrame, serving: dict[str, Any]
) -> pd.DataFrame:
    """The segments of the model named in ``serving.model``."""
    return {"kmeans": customer_segments, "kprototypes": kprototypes_segments}[serving["model"]]


def profile_segments(
    customers_primary: pd.DataFrame,
    segments: pd.DataFrame,
    features: dict[str, Any],
    raw_schema: dict[str, Any],
) -> pd.DataFrame:
    """Describe each segment in the raw units and legend labels of ``conf/``.

    Args:
        customers_primary: Valid customers.
        segments: Identifier and segment of each customer.
        features: The ``features`` parameter (the columns profiled).
        raw_schema: The ``raw_schema`` parameter (legend labels).

    Returns:
        One row per segment (and a last row, ``segment`` = -1, for all customers): ``size``,
        ``share``, ``<numeric> mean`` and ``<numeric> median``, and for each categorical
        code ``<column>: <label>``, the share of the segment's customers with that code.
    """
    schema = RawSchema.from_params(raw_schema)
    merged = customers_primary.merge(segments, on=schema.id_column, validate="one_to_one")
    groups = [(int(k), group) for k, group in merged.groupby("segment", sort=True)]
    rows = [_profile(k, group, len(merged), features, schema) for k, group in groups]
    rows.append(_profile(-1, merged, len(merged), features, schema))
    return pd.DataFrame(rows)


def name_segments(
    segment_profiles: pd.DataFrame,
    features: dict[str, Any],
    raw_schema: dict[str, Any],
    reporting: dict[str, Any],
) -> dict[int, str]:
    """Name each segment after the traits that most set it apart from all customers.

    A trait's effect is standardised so that numbers and categories compare: for a numeric
    column, (segment mean - overall mean) / overall standard deviation; for a category,
    (segment share - overall share) / sqrt(overall share x (1 - overall share)). The
    ``max_traits`` largest effects of at least ``min_effect`` (over-represented categories
    only) make the name, largest first: "Older · Higher income · Big city". A segment with
    no such trait is "Typical customers". Names given in ``segment_names`` win. Where two
    segments would share a name, the next trait is added until they differ, and as a last
    resort the id.

    Returns:
        Segment id to name.
    """
    schema = RawSchema.from_params(raw_schema)
    naming = reporting["naming"]
    overall = segment_profiles.set_index("segment").loc[-1]
    traits = {
        int(row["segment"]): _ranked_traits(row, overall, features, schema, naming)
        for _, row in segment_profiles.iterrows() if row["segment"] >= 0
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
    names.update({int(k): str(v) for k, v in (reporting.get("segment_names") or {}).items()})
    for k, name in names.items():
        logger.info("Segment %d: %s", k, name)
    return names


def _profile(k: int, group: pd.DataFrame, total: int, features: dict[str, Any],
             schema: RawSchema) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {"segment": k, "size": len(group), "share": len(group) / total}
    for name in features.get("numeric") or []:
        row[f"{name} mean"] = float(group[name].mean())
        row[f"{name} median"] = float(group[name].median())
        row[f"{name} std"] = float(group[name].std(ddof=0))
    for name in [*(features.get("ordinal") or []), *(features.get("nominal") or [])]:
        shares = group[name].value_counts(normalize=True)
        for code, label in schema.columns[name].codes.items():
            row[f"{name}: {label}"] = float(shares.get(code, 0.0))
    return row


def _ranked_traits(
    row: pd.Series, overall: pd.Series, features: dict[str, Any], schema: RawSchema,
    naming: dict[str, Any],
) -> list[tuple[str, float]]:  # fmt: skip
    """(word, effect) of every trait with effect >= min_effect, largest effect first."""
    traits = []
    for name in features.get("numeric") or []:
        spread = overall[f"{name} std"] or 1.0
        effect = (row[f"{name} mean"] - overall[f"{name} mean"]) / spread
        low, high = (naming.get("words") or {}).get(name, [f"low {name}", f"high {name}"])
        traits.append((high if effect > 0 else low, abs(effect)))
    for name in [*(features.get("ordinal") or []), *(features.get("nominal") or [])]:
        for label in schema.columns[name].codes.values():
            share, base = row[f"{name}: {label}"], overall[f"{name}: {label}"]
            if 0 < base < 1:
                traits.append((label, (share - base) / np.sqrt(base * (1 - base))))
    strong = [(word, effect) for word, effect in traits if effect >= naming["min_effect"]]
    return sorted(strong, key=lambda trait: -trait[1])
