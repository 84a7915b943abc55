"""Nodes that pick what the report shows of the served model."""

from __future__ import annotations

from typing import Any

import pandas as pd

from customer_segmentation.segmenter import Segmenter


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
