"""Project pipelines."""

from __future__ import annotations

import importlib
import os
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import click
from kedro.framework.project import find_pipelines, settings
from kedro.pipeline import Pipeline
from kedro.utils import find_kedro_project

from customer_segmentation import REGISTERED_MODEL_NAME
from customer_segmentation.features import FeatureSpec
from customer_segmentation.segmenter import trained_models

# `kedro run` with no --pipelines runs these, in this order of data flow ("behaviour" first
# when the run segments on behaviour).
DEFAULT_PIPELINES = ("data_processing", "feature_engineering", "clustering", "reporting")
# Those whose nodes depend on the run's configuration: which models are fitted, and what the
# run segments on (`segment_on`).
CONFIGURED = ("behaviour", "data_processing", "feature_engineering", "clustering", "reporting",
              "inference")  # fmt: skip
# The table `data_processing` checks, by `segment_on`.
CUSTOMER_TABLE = {"customers": "customers_raw", "both": "customers_with_behaviour",
                  "behaviour": "customer_behaviour"}  # fmt: skip


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``__default__`` is the training pipelines bound to ``inference`` by kedro-mlflow's
    ``pipeline_ml_factory``: a tracked run logs the whole inference path as one MLflow model
    and registers it. It must stay the pipeline that runs, not a part of a larger one:
    adding a ``PipelineML`` to another pipeline silently drops the model logging
    (kedro-mlflow issue 690).

    ``find_pipelines`` loads only the pipelines a command asks for; then ``__default__`` is
    built from those loaded. The pipelines that depend on the run's configuration are built
    for it: which models are fitted (``clustering.models``, ``segmenter.trained_models``),
    what the run segments on (``segment_on``): with behaviour, ``data_processing`` checks
    the table ``behaviour`` writes, and so runs it first; and which engine runs them
    (``engine``: each pipeline's pandas nodes or their Spark twins, docs/spark.md). The
    MLflow model is the pandas scoring path whatever the engine: it scores a DataFrame.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    configured = [name for name in CONFIGURED if name in pipelines]
    segment_on = "customers"
    if configured:
        parameters = _run_parameters()
        segment_on, engine = parameters["segment_on"], parameters.get("engine", "pandas")
        options = {"models": _trained_models(parameters), "segment_on": segment_on,
                   "behaviour": segment_on != "customers", "engine": engine}  # fmt: skip
        for name in configured:
            module = importlib.import_module(f"customer_segmentation.pipelines.{name}")
            pipelines[name] = module.create_pipeline(**options)
        if "data_processing" in pipelines and segment_on != "customers":  # the joined table
            behaviour = importlib.import_module("customer_segmentation.pipelines.behaviour")
            pipelines["data_processing"] = behaviour.create_pipeline(**options) + Pipeline(
                pipelines["data_processing"], inputs={"customers_raw": CUSTOMER_TABLE[segment_on]})
    names = (*(("behaviour",) if segment_on != "customers" else ()), *DEFAULT_PIPELINES)
    training = sum((pipelines[name] for name in names if name in pipelines), start=Pipeline([]))
    if "inference" in pipelines and all(name in pipelines for name in names):
        from kedro_mlflow.pipeline import pipeline_ml_factory  # MLflow: only where it tracks

        from customer_segmentation.pipelines import inference

        pipelines["__default__"] = pipeline_ml_factory(
            training=training,
            inference=inference.create_model_pipeline(segment_on),  # one table in, as the API
            input_name="customers_raw",
            log_model_kwargs=_log_model_kwargs(),
        )
    else:
        pipelines["__default__"] = training
    return pipelines


def _run_parameters() -> dict[str, Any]:
    """The parameters of the command being run, read as Kedro reads them for its nodes.

    Kedro does not hand the pipeline registry its run's environment: it is taken from the
    command line (``kedro run --env=X --params=...``), else ``KEDRO_ENV``, as Kedro does.
    """
    command = click.get_current_context(silent=True)
    options = command.params if command else {}
    project = find_kedro_project(Path.cwd()) or Path.cwd()
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / settings.CONF_SOURCE),
        env=options.get("env") or os.environ.get("KEDRO_ENV"),
        runtime_params=options.get("params") or None,
        **settings.CONFIG_LOADER_ARGS,
    )  # fmt: skip
    return loader["parameters"]


def _trained_models(parameters: dict[str, Any]) -> tuple[str, ...]:
    spec = FeatureSpec.from_params(parameters["raw_schema"], parameters["features"])
    return trained_models(
        parameters.get("clustering", {}).get("models") or [], spec, parameters["serving"]["model"]
    )


def _log_model_kwargs() -> dict:
    """How the model is logged: with this package's code and its pinned requirements."""
    package = Path(__file__).parent
    return {
        "name": "model",
        "registered_model_name": REGISTERED_MODEL_NAME,
        "code_paths": [str(package)],
        "pip_requirements": [
            req for req in requires("customer-segmentation") or [] if "extra ==" not in req
        ],
        "signature": None,
    }
