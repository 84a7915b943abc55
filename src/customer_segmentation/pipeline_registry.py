"""Project pipelines."""

from __future__ import annotations

from importlib.metadata import requires
from pathlib import Path

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline
from kedro_mlflow.pipeline import pipeline_ml_factory

from customer_segmentation import REGISTERED_MODEL_NAME

# `kedro run` with no --pipelines runs these, in this order of data flow.
DEFAULT_PIPELINES = ("data_processing", "feature_engineering", "clustering", "reporting")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``__default__`` is the training pipelines bound to ``inference`` by kedro-mlflow's
    ``pipeline_ml_factory``: a tracked run logs the whole inference path as one MLflow model
    and registers it. It must stay the pipeline that runs, not a part of a larger one:
    adding a ``PipelineML`` to another pipeline silently drops the model logging
    (kedro-mlflow issue 690).

    ``find_pipelines`` loads only the pipelines a command asks for; then ``__default__`` is
    built from those loaded.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    training = sum(
        (pipelines[name] for name in DEFAULT_PIPELINES if name in pipelines), start=Pipeline([])
    )
    if "inference" in pipelines and all(name in pipelines for name in DEFAULT_PIPELINES):
        pipelines["__default__"] = pipeline_ml_factory(
            training=training,
            inference=pipelines["inference"],
            input_name="customers_raw",
            log_model_kwargs=_log_model_kwargs(),
        )
    else:
        pipelines["__default__"] = training
    return pipelines


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
