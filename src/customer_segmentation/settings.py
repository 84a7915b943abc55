"""Kedro project settings (https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

import os
from pathlib import Path

from kedro.utils import find_kedro_project

from customer_segmentation.config_loader import ProjectConfigLoader
from customer_segmentation.datasets import AtomicDataCatalog
from customer_segmentation.hooks import RunCompletionHook, RunLockHook, TrackingTagsHook
from customer_segmentation.pipeline_registry import DEFAULT_PIPELINES

TRACKING_SWITCH = "CUSTOMER_SEGMENTATION_TRACKING"
ALL_PIPELINES = ("__default__", *DEFAULT_PIPELINES, "inference")


def untracked_pipelines() -> list[str]:
    """Pipelines kedro-mlflow leaves untracked.

    Batch scoring (``inference``) is never tracked; with ``CUSTOMER_SEGMENTATION_TRACKING=off``
    no pipeline is.
    """
    tracking_off = os.environ.get(TRACKING_SWITCH, "on").lower() in ("off", "false", "0", "no")
    return list(ALL_PIPELINES) if tracking_off else ["inference"]


def project_root() -> str:
    """The root of the project the working directory is in, as mlflow.yml's ``${project_root:}``.

    Keeps the SQLite store in one place whether Kedro runs from the root, a notebook in
    ``notebooks/`` or the container's ``/app``: MLflow reads ``sqlite:///`` paths from the
    working directory.
    """
    return (find_kedro_project(Path.cwd()) or Path.cwd()).as_posix()


HOOKS = (RunLockHook(), TrackingTagsHook(), RunCompletionHook())

CONFIG_LOADER_CLASS = ProjectConfigLoader  # OmegaConfigLoader, with raw_schema's defaults
DATA_CATALOG_CLASS = AtomicDataCatalog  # local files are replaced whole, never half-written
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {
        "untracked_pipelines": untracked_pipelines,
        "project_root": project_root,
    },
    # An environment's mlflow.yml (conf/docker) overrides single keys, not whole sections.
    "merge_strategy": {"mlflow": "soft"},
}
