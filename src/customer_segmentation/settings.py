"""Kedro project settings (https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

import os

from kedro.config import OmegaConfigLoader

from customer_segmentation.hooks import TrackingTagsHook
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


HOOKS = (TrackingTagsHook(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"untracked_pipelines": untracked_pipelines},
}
