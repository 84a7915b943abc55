"""`kedro run --env=spark` end to end: training tracked in MLflow with its model registered,
batch scoring on the executors, and the registered model on a Spark table (spark_udf)."""

from __future__ import annotations

import shutil
import textwrap

import pandas as pd
import pytest
from mlflow import MlflowClient

from customer_segmentation.datasets import read_text_csv
from customer_segmentation.pipelines.data_processing.nodes import ContentHash

from .kedro_project import Project, copy_project

pytestmark = pytest.mark.slow
pytest.importorskip("pyspark", reason="pyspark is installed by make install")
if shutil.which("java") is None:
    pytest.skip("no Java: Spark needs Java 17 (make test installs it where apt may run)",
                allow_module_level=True)  # fmt: skip
MODEL = "customer-segmentation"
SPARK_DATA = "spark"  # conf/spark/globals.yml's data_dir, under data/


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Project:
    """A tracked `kedro run --env=spark`, kept short: k sweeps of 2..5, one k-means|| run
    per fit (tests/test_spark.py compares K-Means with scikit-learn's)."""
    project = copy_project(tmp_path_factory.mktemp("spark"))
    project.run("--env=spark", "--params=kmeans.k_max=5,kprototypes.k_max=5,"
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
    assert sorted(metric.step for metric in history) == list(range(2, 6))
    assert run.data.metrics["kprototypes.k"] >= 2
    whole = ContentHash()
    whole.update(read_text_csv(trained.data("01_raw/customers.csv"), {}))
    assert run.data.tags["raw_data_sha256"] == whole.hexdigest()
    report = trained.data(f"{SPARK_DATA}/08_reporting/segmentation_report.html").read_text()
    assert run.info.run_id in report


def test_batch_scoring_on_spark_and_the_registered_model_agree(trained, tmp_path):
    """A hostile file scored by `--pipelines=inference` on Spark, by the registered model
    in pandas, and by the registered model as a Spark UDF: the same rows, segments, reasons."""
    raw = pd.read_csv(trained.data("01_raw/customers.csv"), dtype=str).head(300)
    raw.loc[3, "ID"] = raw.loc[2, "ID"]
    raw.loc[5, "Age"] = "NA"
    raw.loc[7, "Income"] = "abc"
    raw.loc[9, "ID"] = "not an id"
    path = tmp_path / "to_score.csv"
    raw.to_csv(path, index=False)
    trained.run("--env=spark", "--pipelines=inference", f"--params=raw_data_path={path}")
    scored = spark_output(trained, "07_model_output/scored_customers.parquet")
    assert len(scored) == 300 and scored["reason"].notna().sum() == 4
    assert scored["ID"].tolist() == raw["ID"].tolist()  # in input order; an ID is text
    code = textwrap.dedent(f"""
        import mlflow, pandas as pd
        mlflow.set_tracking_uri({trained.tracking_uri!r})
        model = mlflow.pyfunc.load_model("models:/{MODEL}/1")
        raw = pd.read_csv({str(path)!r}, dtype=str)
        model.predict(raw).to_json({str(tmp_path / "pandas.json")!r}, orient="records")
        from customer_segmentation.spark import start_session
        from pyspark.sql import functions as F
        spark = start_session({{"spark.master": "local[1]", "spark.ui.enabled": "false"}})
        table = spark.read.csv({str(path)!r}, header=True)
        udf = mlflow.pyfunc.spark_udf(spark, "models:/{MODEL}/1", env_manager="local",
            result_type="ID string, segment double, segment_name string, reason string")
        table = table.repartition(1).withColumn("scored", udf(F.struct(*table.columns)))
        table.select("scored.*").toPandas().to_json({str(tmp_path / "udf.json")!r},
                                                    orient="records")
    """)
    trained.python(code)
    by_model = pd.read_json(tmp_path / "pandas.json", dtype={"ID": str})
    assert by_model["segment"].fillna(-1).astype(int).tolist() == (
        scored["segment"].fillna(-1).astype(int).tolist())
    assert by_model["reason"].tolist() == scored["reason"].tolist()
    by_udf = pd.read_json(tmp_path / "udf.json", dtype={"ID": str})
    assert by_udf["segment"].fillna(-1).astype(int).tolist() == (
        scored["segment"].fillna(-1).astype(int).tolist())
