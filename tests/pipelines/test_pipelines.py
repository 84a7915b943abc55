"""The registered pipelines, run in memory with Kedro's SequentialRunner."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from kedro.framework.project import configure_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from customer_segmentation.pipeline_registry import register_pipelines
from customer_segmentation.segmenter import ALGORITHMS, trained_models


@pytest.fixture(scope="module")
def pipelines():
    configure_project("customer_segmentation")
    return register_pipelines()


def _catalog(raw: pd.DataFrame, parameters: dict) -> DataCatalog:
    catalog = DataCatalog({"customers_raw": MemoryDataset(raw)})
    catalog["mlflow_run_id"] = "not tracked"
    for name, value in parameters.items():
        catalog[f"params:{name}"] = value
    for group in ("raw_schema", "data_quality"):
        for key, value in parameters[group].items():
            catalog[f"params:{group}.{key}"] = value
    return catalog


def test_registry_has_the_pipelines_in_data_flow_order(pipelines):
    expected = {"data_processing", "feature_engineering", "clustering", "reporting", "inference"}
    assert expected | {"__default__"} <= set(pipelines)
    default_nodes = {node.name for node in pipelines["__default__"].nodes}
    for name in ("data_processing", "feature_engineering", "clustering", "reporting"):
        assert {node.name for node in pipelines[name].nodes} <= default_nodes


def test_default_pipeline_in_memory(pipelines, parameters, raw_customers):
    catalog = _catalog(
        raw_customers, {**parameters, "kmeans": {**parameters["kmeans"], "k_max": 5}}
    )
    SequentialRunner().run(pipelines["__default__"], catalog)
    report = catalog.load("segmentation_report")
    assert report.startswith("<!DOCTYPE html>")
    assert report.count('class="segment"') in range(4, 11)  # a card per segment of each model
    assert "Also fitted, not served: K-Prototypes" in report
    assert catalog.load("customers_rejected").empty


@pytest.mark.parametrize("models", [("kmeans",), ("kprototypes",)])
def test_one_model_alone_is_fitted_served_and_reported(parameters, raw_customers, models):
    from customer_segmentation.pipelines import (
        clustering,
        data_processing,
        feature_engineering,
        reporting,
    )

    pipeline = data_processing.create_pipeline() + sum(
        (module.create_pipeline(models=models)
         for module in (feature_engineering, clustering, reporting)), start=Pipeline([]),
    )  # fmt: skip
    other = "kprototypes" if models == ("kmeans",) else "kmeans"
    assert not [node.name for node in pipeline.nodes if other in node.name]
    small = {"k_max": 4, "n_init": 2}
    catalog = _catalog(raw_customers, {
        **parameters, "serving": {"model": models[0]},
        "kmeans": {**parameters["kmeans"], **small},
        "kprototypes": {**parameters["kprototypes"], **small},
    })  # fmt: skip
    SequentialRunner().run(pipeline, catalog)
    report = catalog.load("segmentation_report")  # the served model, and its own k sweep
    assert f"{models[0]} (k = " in report
    assert ("silhouette (Gower)" in report) == (models[0] == "kprototypes")


def test_the_models_fitted_follow_the_features_and_the_served_model(spec):
    numeric_only = dataclasses.replace(spec, ordinal=(), binary=(), nominal=())
    assert trained_models(["kmeans", "kprototypes"], spec, "kprototypes") == ALGORITHMS
    assert trained_models(["kmeans", "kprototypes"], numeric_only, "kmeans") == ("kmeans",)
    with pytest.raises(ValueError, match="must list one or more of kmeans, kprototypes"):
        trained_models(["kmodes"], spec, "kmeans")
    with pytest.raises(ValueError, match=r"serving.model is 'kmeans', which this run does not "
                                         r"fit: clustering.models is \['kprototypes'\]"):
        trained_models(["kprototypes"], spec, "kmeans")
