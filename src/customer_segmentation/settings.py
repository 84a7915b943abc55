"""Kedro project settings (https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}

# Experiment tracking is switched on with kedro-mlflow's configuration (see docs/mlflow.md).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)
