"""`kedro run --env=spark` end to end, on the customer table and its order log (the default,
`segment_on: both`): training tracked in MLflow with its model registered, batch scoring on
the executors, and the registered model on a Spark table (spark_udf)."""

from __future__ import annotations

import json
import pickle
import shutil

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from customer_segmentation.behaviour import add_behaviour
from customer_segmentation.datasets import read_text_csv

from .kedro_project import Project, copy_project

pytestmark = pytest.mark.slow
pytest.importorskip("pyspark", reason="pyspark is installed by make install")
if shutil.which("java") is None:
    pytest.skip("no Java: Spark needs Java 17 (make test installs it where apt may run)",
                allow_module_level=True)  # fmt: skip

from pyspark.sql import functions as F  # noqa: E402 (after the skips)

MODEL = "customer-segmentation"
SPARK_DATA = "spark"  # conf/spark/globals.yml's data_dir, under data/


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Project:
    """A tracked `kedro run --env=spark`, kept short: k sweeps of 2..4, one k-means|| run
    per fit (tests/test_spark.py compares K-Means with scikit-learn's)."""
    project = copy_project(tmp_path_factory.mktemp("spark"))
    project.run("--env=spark", "--params=kmeans.k_max=4,kprototypes.k_max=4,"
                "on_spark.kmeans_n_init=1", tracking=True)
    return project


def spark_output(project: Project, relative: str) -> pd.DataFrame:
    return pd.read_parquet(project.data(f"{SPARK_DATA}/{relative}"))


def test_a_spark_training_is_tracked_and_registers_the_model(trained):
    client = MlflowClient(tracking_uri=trained.tracking_uri)
    (version,) = client.search_model_versions(f"name='{MODEL}'")
    run = client.get_run(version.run_id)
    segments = spark_output(trained, "07_model_output/customer_segments.parquet")
    assert run.data.params["on_spark.kmeans_n_init"] == "1"  # the Spark twins ran
    assert run.data.metrics["kmeans.k"] == segments["segment"].nunique() >= 2
    assert run.data.metrics["data.rows_raw"] == len(segments) == 2000
    history = client.get_metric_history(run.info.run_id, "k_sweep.inertia")
    assert sorted(metric.step for metric in history) == list(range(2, 5))
    assert run.data.metrics["kprototypes.k"] >= 2
    # The table checked is the customers joined with their behaviour, hashed as the pandas
    # path hashes it (tests/test_spark_behaviour.py compares the two).
    quality = json.loads(trained.data(f"{SPARK_DATA}/08_reporting/data_quality_summary.json")
                         .read_text())  # fmt: skip
    assert run.data.tags["raw_data_sha256"] == quality["raw_data_sha256"] != ""
    behaviour = spark_output(trained, "04_feature/customer_behaviour.parquet")
    rfm = spark_output(trained, "07_model_output/rfm_segments.parquet")
    assert len(behaviour) == len(rfm) == 2000 and rfm["rfm_segment"].nunique() >= 5
    report = trained.data(f"{SPARK_DATA}/08_reporting/segmentation_report.html").read_text()
    assert run.info.run_id in report


def test_batch_scoring_on_spark_and_the_registered_model_agree(trained, spark, tmp_path):
    """A hostile file scored with its customers' behaviour from the order log: by
    `--pipelines=inference` on Spark, and by the registered model in pandas and as a Spark
    UDF: the same rows, segments and reasons."""
    raw = pd.read_csv(trained.data("01_raw/customers.csv"), dtype=str).head(300)
    raw.loc[3, "ID"] = raw.loc[2, "ID"]
    raw.loc[5, "Age"] = "NA"
    raw.loc[7, "Income"] = "abc"
    raw.loc[9, "ID"] = "not an id"
    path = tmp_path / "to_score.csv"
    raw.to_csv(path, index=False)
    output = trained.run("--env=spark", "--pipelines=inference", f"--params=raw_data_path={path}")
    assert "Ignoring columns" not in output  # the behaviour joined but not segmented on
    scored = spark_output(trained, "07_model_output/scored_customers.parquet")
    assert len(scored) == 300 and scored["reason"].notna().sum() == 4
    assert scored["ID"].tolist() == raw["ID"].tolist()  # in input order; an ID is text
    # The registered model (the registry's version 1) takes the customers with their
    # behaviour (as the API does), derived from the log in pandas as pandas scoring does.
    model_uri = MlflowClient(tracking_uri=trained.tracking_uri).get_model_version_download_uri(
        MODEL, "1")  # fmt: skip
    (pickled,) = trained.data(f"{SPARK_DATA}/06_models").glob("segmenter.pkl/*/segmenter.pkl")
    segmenter = pickle.loads(pickled.read_bytes())
    lines = read_text_csv(trained.data("01_raw/transactions.csv"), {})
    to_score = pd.read_csv(path, dtype=str)  # "NA" missing, as the file reads
    joined = add_behaviour(to_score, lines, segmenter.behaviour, "ID").customers
    by_model = mlflow.pyfunc.load_model(model_uri).predict(joined)
    assert by_model["segment"].fillna(-1).astype(int).tolist() == (
        scored["segment"].fillna(-1).astype(int).tolist())
    assert by_model["reason"].fillna("").tolist() == scored["reason"].fillna("").tolist()
    # ... and as a Spark UDF, in this process's session.
    udf = mlflow.pyfunc.spark_udf(
        spark, model_uri, env_manager="local",
        result_type="ID string, segment double, segment_name string, reason string")
    table = spark.createDataFrame(joined)
    by_udf = (table.repartition(1).withColumn("scored", udf(F.struct(*table.columns)))
              .select("scored.*").toPandas())  # fmt: skip
    assert by_udf["ID"].tolist() == raw["ID"].tolist()
    assert by_udf["segment"].fillna(-1).astype(int).tolist() == (
        scored["segment"].fillna(-1).astype(int).tolist())
