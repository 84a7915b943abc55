"""Kedro project settings (https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

import warnings
from pathlib import Path

from kedro.utils import find_kedro_project

from customer_segmentation.config_loader import ProjectConfigLoader
from customer_segmentation.datasets import AtomicDataCatalog
from customer_segmentation.hooks import (
    RunCompletionHook,
    RunLockHook,
    SparkSessionHook,
    TrackedRunsHook,
    TrackingTagsHook,
    untracked_pipelines,
)

# Kedro 1.7's config loader (four times per session) and kedro-mlflow's hook (once per
# tracked run) call omegaconf 2.4's deprecated `register_new_resolver`: notices for their
# maintainers that users cannot act on.
warnings.filterwarnings(
    "ignore", r"register_new_resolver\(\) is deprecated", UserWarning,
    module=r"kedro\.config\.omegaconf_config|kedro_mlflow\.framework\.hooks\.mlflow_hook",
)  # fmt: skip


def project_root() -> str:
    """The root of the project the working directory is in, as mlflow.yml's ``${project_root:}``.

    Keeps the SQLite store in one place whether Kedro runs from the root, a notebook in
    ``notebooks/`` or the container's ``/app``: MLflow reads ``sqlite:///`` paths from the
    working directory.
    """
    return (find_kedro_project(Path.cwd()) or Path.cwd()).as_posix()


HOOKS = (SparkSessionHook(), RunLockHook(), TrackedRunsHook(), TrackingTagsHook(),
         RunCompletionHook())
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)  # registered by TrackedRunsHook, where it tracks

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
    # conf/<env>/spark.yml: the SparkSession of an environment that runs on Spark
    "config_patterns": {"spark": ["spark*", "spark*/**"]},
}
