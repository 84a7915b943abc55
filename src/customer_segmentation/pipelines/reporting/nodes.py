"""Nodes that pick what the report shows of the served model."""

from __future__ import annotations

import pandas as pd

from customer_segmentation.segmenter import Segmenter


def served_outputs(
    segmenter: Segmenter, **by_model: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str], pd.DataFrame]:
    """The segments, profiles, names and k sweep of the model the segmenter serves.

    Args:
        segmenter: The served segmenter.
        **by_model: ``<algorithm>_segments``, ``<algorithm>_profiles`` and
            ``<algorithm>_k_selection`` of each model the run fitted.

    Returns:
        The served model's segments, its profiles, segment id to name, and its k sweep.
    """
    algorithm = segmenter.algorithm
    return (by_model[f"{algorithm}_segments"], by_model[f"{algorithm}_profiles"],
            segmenter.names, by_model[f"{algorithm}_k_selection"])  # fmt: skip
