"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# `kedro run` with no --pipelines runs these, in this order of data flow.
DEFAULT_PIPELINES = ("data_processing", "feature_engineering", "clustering", "reporting")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``find_pipelines`` loads only the pipelines a command asks for, so ``__default__`` is
    built from those of ``DEFAULT_PIPELINES`` that were loaded.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipelines[name] for name in DEFAULT_PIPELINES if name in pipelines), start=Pipeline([])
    )
    return pipelines
