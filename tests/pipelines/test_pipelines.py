"""The registered pipelines, run in memory with Kedro's SequentialRunner."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.framework.project import configure_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from customer_segmentation.pipeline_registry import register_pipelines


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
    assert report.count('class="segment"') in range(2, 6)  # one card per segment, k = 2..5
    assert catalog.load("customers_rejected").empty
