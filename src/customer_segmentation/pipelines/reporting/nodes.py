"""Nodes that pick what the report shows of the served model."""

from __future__ import annotations

from typing import Any

import pandas as pd

from customer_segmentation.behaviour import RFM_SEGMENTS
from customer_segmentation.segmenter import Segmenter
from customer_segmentation.segments import segment_name


def served_outputs(
    segmenter: Segmenter, **by_model: Any
) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str], pd.DataFrame, dict[str, dict]]:
    """The segments, profiles, names and k sweep of the model the segmenter serves, and the
    profiles and names of the others.

    Args:
        segmenter: The served segmenter.
        **by_model: ``<algorithm>_segments``, ``_profiles``, ``_names`` and ``_k_selection``
            of each model the run fitted.

    Returns:
        The served model's segments, its profiles, segment id to name and its k sweep; then
        ``{algorithm: {"profiles": ..., "names": ...}}`` of every other model fitted.
    """
    algorithm = segmenter.algorithm
    others = {
        key.removesuffix("_profiles"): {"profiles": profiles,
                                        "names": by_model[key.replace("_profiles", "_names")]}
        for key, profiles in by_model.items()
        if key.endswith("_profiles") and key != f"{algorithm}_profiles"
    }  # fmt: skip
    return (by_model[f"{algorithm}_segments"], by_model[f"{algorithm}_profiles"],
            segmenter.names, by_model[f"{algorithm}_k_selection"], others)  # fmt: skip


def cross_segments_with_rfm(
    served_segments: pd.DataFrame, rfm_segments: pd.DataFrame, served_names: dict[int, str],
    id_column: str,
) -> pd.DataFrame:  # fmt: skip
    """Customers per served segment (rows, by name) and RFM group (columns, in the RFM map's
    order, from Champions to Lost): what marketing reads the clusters against."""
    merged = served_segments.merge(rfm_segments, on=id_column)
    groups = [name for name, _, _ in RFM_SEGMENTS]
    table = pd.crosstab(merged["segment"], pd.Categorical(merged["rfm_segment"], groups),
                        dropna=False)  # fmt: skip
    table.index = [segment_name(segment, served_names) for segment in table.index]
    return table.rename_axis(index="segment", columns="rfm_segment").reset_index()
