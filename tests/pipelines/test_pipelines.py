"""The registered pipelines, run in memory with Kedro's SequentialRunner."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from kedro.framework.project import configure_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro_datasets.pickle import PickleDataset

from customer_segmentation import pipeline_registry
from customer_segmentation.data_generator import generate_customers, generate_transactions
from customer_segmentation.segmenter import ALGORITHMS, trained_models
from tests.conftest import project_parameters


def _pipelines(monkeypatch: pytest.MonkeyPatch, segment_on: str) -> dict[str, Pipeline]:
    """The registry's pipelines for a run with ``--params=segment_on=...``."""
    configure_project("customer_segmentation")
    monkeypatch.setattr(pipeline_registry, "_run_parameters",
                        lambda: project_parameters(segment_on=segment_on))  # fmt: skip
    return pipeline_registry.register_pipelines()


@pytest.fixture
def pipelines(monkeypatch):
    return _pipelines(monkeypatch, "customers")


def _catalog(raw: pd.DataFrame | None, parameters: dict,
             transactions: pd.DataFrame | None = None) -> DataCatalog:  # fmt: skip
    catalog = DataCatalog()
    for name, table in (("customers_raw", raw), ("transactions_raw", transactions)):
        if table is not None:
            catalog[name] = MemoryDataset(table)
    catalog["mlflow_run_id"] = "not tracked"
    for name, value in parameters.items():
        catalog[f"params:{name}"] = value
    for group in ("raw_schema", "data_quality", "transactions", "behaviour"):
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


@pytest.mark.parametrize("segment_on", ["both", "behaviour"])
def test_segmenting_on_behaviour_in_memory(monkeypatch, tmp_path, segment_on):
    customers = generate_customers(400, seed=5)
    lines = generate_transactions(customers, seed=5).astype("str")
    parameters = project_parameters(segment_on=segment_on)
    parameters = {**parameters, "kmeans": {**parameters["kmeans"], "k_max": 5},
                  "clustering": {**parameters["clustering"], "models": ["kmeans"]},
                  "serving": {"model": "kmeans"}}  # fmt: skip
    monkeypatch.setattr(pipeline_registry, "_run_parameters", lambda: parameters)
    configure_project("customer_segmentation")
    pipelines = pipeline_registry.register_pipelines()
    catalog = _catalog(customers if segment_on == "both" else None, parameters, lines)
    for kept in ("segmenter", "customer_segments", "segment_rfm_crosstab"):  # not released
        catalog[kept] = PickleDataset(filepath=str(tmp_path / f"{kept}.pkl"))
    SequentialRunner().run(pipelines["__default__"], catalog)
    segmenter = catalog.load("segmenter")
    behaviour = ["recency_days", "frequency", "monetary_total"]
    assert list(segmenter.spec.numeric) == ([] if segment_on == "behaviour" else
                                            ["Age", "Income"]) + behaviour  # fmt: skip
    assert segmenter.behaviour is not None
    segments = catalog.load("customer_segments")
    assert len(segments) == (400 if segment_on == "both" else lines["customer_id"].nunique())
    crosstab = catalog.load("segment_rfm_crosstab")
    assert crosstab.drop(columns="segment").to_numpy().sum() == len(segments)
    assert "Segments against RFM groups" in catalog.load("segmentation_report")

    scoring = _catalog(customers if segment_on == "both" else None, parameters, lines)
    scoring["segmenter"] = MemoryDataset(segmenter)
    SequentialRunner().run(pipelines["inference"], scoring)
    scored = scoring.load("scored_customers")
    expected = segments.merge(scored, on="ID", suffixes=("", " scored"))
    assert len(expected) == len(segments) and scored["reason"].isna().all()
    assert (expected["segment"] == expected["segment scored"]).all()


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


@pytest.mark.parametrize(("name", "segment_on"), [
    ("data_processing", "customers"), ("feature_engineering", "customers"),
    ("clustering", "customers"), ("reporting", "customers"), ("reporting", "both"),
    ("inference", "customers"), ("inference", "both"), ("inference", "behaviour"),
    ("behaviour", "both"), ("behaviour", "behaviour"),
])  # fmt: skip
def test_the_spark_twins_write_what_the_pandas_nodes_write(name, segment_on):
    """`engine: spark` swaps nodes, not datasets: every pandas output the rest of the project
    reads is written by a Spark node of the same name (plus the driver's samples; the RFM
    segments are written on Spark and read in pandas, one file: `@spark`, `@pandas`)."""
    pytest.importorskip("pyspark", reason="pyspark is installed by make install")
    import importlib

    module = importlib.import_module(f"customer_segmentation.pipelines.{name}")
    options = {"models": ALGORITHMS, "segment_on": segment_on,
               "behaviour": segment_on != "customers"}  # fmt: skip
    pandas = module.create_pipeline(**options)
    spark = module.create_pipeline(**options, engine="spark")
    samples = {f"{table}_sample" for table in ("model_input", "customers_primary",
               "customer_segments", "kprototypes_segments", "kprototypes_input")}  # fmt: skip

    def datasets(names):
        return {name.partition("@")[0] for name in names}  # one file, read as either type

    assert pandas.outputs() <= datasets(spark.all_outputs())
    assert datasets(spark.outputs()) - samples <= pandas.all_outputs()
    assert (datasets(spark.inputs()) - pandas.inputs()) <= samples | {"params:on_spark"}
    if name != "inference":  # scoring on Spark puts the segments and the reasons together
        assert {node.name for node in pandas.nodes} <= {node.name for node in spark.nodes}
