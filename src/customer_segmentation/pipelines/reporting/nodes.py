"""Nodes that pick what the report shows of the served model."""

from __future__ import annotations

import pandas as pd

from customer_segmentation.segmenter import Segmenter


def served_outputs(
    segmenter: Segmenter,
    customer_segments: pd.DataFrame,
    kprototypes_segments: pd.DataFrame,
    segment_profiles: pd.DataFrame,
    kprototypes_segment_profiles: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str]]:
    """The segments, profiles and names of the model the segmenter serves.

    Returns:
        The served model's segments, its profiles and segment id to name.
    """
    if segmenter.algorithm == "kprototypes":
        return kprototypes_segments, kprototypes_segment_profiles, segmenter.names
    return customer_segments, segment_profiles, segmenter.names
