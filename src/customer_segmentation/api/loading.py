"""What the service reads from the project: its configuration once, then the ``segmenter``."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.context.context import _convert_paths_to_absolute_posix
from kedro.framework.project import settings as kedro_settings
from kedro.framework.startup import bootstrap_project

from customer_segmentation import REGISTERED_MODEL_NAME
from customer_segmentation.behaviour import BehaviourSpec
from customer_segmentation.datasets import csv_format
from customer_segmentation.features import FeatureSpec
from customer_segmentation.schema import ColumnSpec
from customer_segmentation.segmenter import Segmenter

logger = logging.getLogger(__name__)
MLFLOW_CONFIG = ["mlflow*", "mlflow*/**", "**/mlflow*"]  # as kedro-mlflow reads mlflow.yml
CONFIG_DEFAULT_ENV = "local"
RAW_DATASET = "customers_raw"  # its load_args say how raw CSVs, and so uploads, are written


class ModelMismatchError(RuntimeError):
    """The trained segmenter does not fit the project's current configuration."""


@dataclass(frozen=True)
class ProjectConfig:
    """The project's configuration, read once at start-up.

    Attributes:
        spec: The feature specification of ``conf/`` (request models are built from it).
        catalog: The Kedro data catalog (the ``segmenter`` dataset).
        tracking_uri: The MLflow tracking store, if configured.
        env: The configuration environment read.
        csv_format: How the raw file is written (``customers_raw``'s separator, encoding,
            decimal mark, quoting and missing-value markers): uploads are read the same way.
        behaviour: How behaviour is derived from transactions, when the configuration
            segments on it (``segment_on: behaviour | both``): requests may carry them.
    """

    spec: FeatureSpec
    catalog: Any
    tracking_uri: str | None
    env: str
    csv_format: dict[str, Any]
    behaviour: BehaviourSpec | None = None


@dataclass(frozen=True)
class Loaded:
    """The served segmenter and what ``GET /model`` says of it.

    Attributes:
        segmenter: The served segmenter.
        summary: Its facts known without MLflow: algorithm, k, features, version, rows.
        tracking_uri: The MLflow store that may hold its training run, if configured.
    """

    segmenter: Segmenter
    summary: dict[str, Any]
    tracking_uri: str | None

    @functools.cached_property
    def facts(self) -> dict[str, Any]:
        """The summary and the MLflow run and registered version, looked up once, when first
        asked for: the service starts without importing MLflow."""
        version = self.summary["dataset_version"]
        return {**self.summary, **_registry_facts(self.tracking_uri, version)}


def read_config(project_path: Path, env: str | None) -> ProjectConfig:
    """Read the project's parameters, catalog and MLflow settings, as ``kedro run`` would.

    Read from inside the project, as ``kedro run`` is: resolvers such as ``${project_root:}``
    (the MLflow store) resolve from the working directory.
    """
    project_path = project_path.resolve()
    bootstrap_project(project_path)
    with contextlib.chdir(project_path):
        loader = kedro_settings.CONFIG_LOADER_CLASS(
            conf_source=str(project_path / kedro_settings.CONF_SOURCE), env=env,
            **kedro_settings.CONFIG_LOADER_ARGS,
        )  # fmt: skip
        loader.config_patterns.setdefault("mlflow", MLFLOW_CONFIG)
        parameters = loader["parameters"]
        credentials = _optional(loader, "credentials") or {}
        catalog_config = loader["catalog"]
        catalog = kedro_settings.DATA_CATALOG_CLASS.from_config(
            _convert_paths_to_absolute_posix(project_path, catalog_config), credentials
        )
        tracking_uri = (
            (_optional(loader, "mlflow") or {}).get("server", {}).get("mlflow_tracking_uri")
        )
    spec = FeatureSpec.from_params(parameters["raw_schema"], parameters["features"])
    behaviour = None
    if parameters["segment_on"] != "customers":
        behaviour = BehaviourSpec.from_params(parameters["transactions"],
                                              parameters["behaviour"], parameters["raw_schema"])
    return ProjectConfig(
        spec=spec,
        catalog=catalog,
        tracking_uri=tracking_uri,
        env=env or CONFIG_DEFAULT_ENV,
        csv_format=csv_format(catalog_config.get(RAW_DATASET, {}).get("load_args") or {}),
        behaviour=behaviour,
    )


def _optional(loader: Any, key: str) -> dict[str, Any] | None:
    try:
        return loader[key]
    except MissingConfigException:
        return None


def load_segmenter(config: ProjectConfig) -> Loaded:
    """Load the newest ``segmenter`` and check it against the configuration.

    Raises:
        DatasetError: No segmenter has been trained yet.
        ModelMismatchError: It was trained with another feature specification.
    """
    segmenter = config.catalog.load("segmenter")
    version = config.catalog.get("segmenter").resolve_load_version()
    found = differences(segmenter.spec, config.spec)
    if segmenter.behaviour != config.behaviour:
        found.append(f"behaviour: {segmenter.behaviour!r} (model) vs {config.behaviour!r} "
                     "(configuration)")  # fmt: skip
    if found:
        raise ModelMismatchError(
            f"The segmenter version {version} was trained with another feature specification "
            f"than the configuration (env {config.env!r}) says: {'; '.join(found)}. Train a "
            f"model for this configuration: kedro run --env={config.env}"
        )
    facts = {
        "algorithm": segmenter.algorithm,
        "k": segmenter.k,
        "features": {
            "numeric": list(segmenter.spec.numeric),
            "categorical": list(segmenter.spec.categorical),
        },  # fmt: skip
        "trained_at": version,
        "dataset": "segmenter",
        "dataset_version": version,
        "training_rows": sum(segmenter.sizes),
    }
    logger.info("Serving %s (k=%d), segmenter version %s",
                segmenter.algorithm, segmenter.k, version)  # fmt: skip
    return Loaded(segmenter, facts, config.tracking_uri)


def differences(trained: FeatureSpec, configured: FeatureSpec) -> list[str]:
    """What differs between two feature specifications, each as ``<what>: <trained> (model)
    vs <configured> (configuration)``, for messages."""
    found = []
    for field in dataclasses.fields(FeatureSpec):
        model, configuration = getattr(trained, field.name), getattr(configured, field.name)
        if field.name == "schema":
            for name in dict.fromkeys([*model.columns, *configuration.columns]):
                column, wanted = model.columns.get(name), configuration.columns.get(name)
                if column != wanted:
                    found.append(f"raw column {name!r}: {_column(column)} (model) vs "
                                 f"{_column(wanted)} (configuration)")  # fmt: skip
            if model.id_column != configuration.id_column:
                found.append(f"id_column: {model.id_column!r} (model) vs "
                             f"{configuration.id_column!r} (configuration)")  # fmt: skip
        elif model != configuration:
            found.append(f"{field.name}: {model!r} (model) vs {configuration!r} (configuration)")
    return found


def _column(column: ColumnSpec | None) -> str:
    """A raw column in one line: its declared keys that have a value."""
    if column is None:
        return "absent"
    keys = {key: value for key, value in dataclasses.asdict(column).items()
            if value not in (None, {}) and key != "name"}  # fmt: skip
    return ", ".join(f"{key} {value}" for key, value in keys.items())


def _registry_facts(tracking_uri: str | None, version: str) -> dict[str, Any]:
    """The MLflow run that trained this segmenter version, and its registered model version."""
    facts: dict[str, Any] = {
        "mlflow_run_id": None,
        "registered_model": None,
        "registered_version": None,
    }
    if not tracking_uri:
        return facts
    try:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri)
        runs = client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            filter_string=f"tags.run_id = '{version}'", max_results=1,
        )  # fmt: skip
        if runs:
            facts["mlflow_run_id"] = runs[0].info.run_id
            versions = client.search_model_versions(f"run_id = '{runs[0].info.run_id}'")
            if versions:
                facts["registered_model"] = REGISTERED_MODEL_NAME
                facts["registered_version"] = int(versions[0].version)
    except Exception as error:  # tracking is optional: the service runs without it
        logger.warning("No MLflow facts for segmenter version %s: %s", version, error)
    return facts
