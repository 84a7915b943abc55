"""`kedro run --env=spark` end to end, on the customer table and its order log (the default,
`segment_on: both`): training tracked in MLflow with its model registered, batch scoring on
the executors, and the registered model on a Spark table (spark_udf)."""

from __future__ import annotations

import json
import shutil
import textwrap

import pandas as pd
import pytest
from mlflow import MlflowClient

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


def test_batch_scoring_on_spark_and_the_registered_model_agree(trained, tmp_path):
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
    trained.run("--env=spark", "--pipelines=inference", f"--params=raw_data_path={path}")
    scored = spark_output(trained, "07_model_output/scored_customers.parquet")
    assert len(scored) == 300 and scored["reason"].notna().sum() == 4
    assert scored["ID"].tolist() == raw["ID"].tolist()  # in input order; an ID is text
    # The registered model takes the customers with their behaviour (as the API does),
    # derived from the log in pandas as the pandas scoring path derives it.
    code = textwrap.dedent(f"""
        import pickle, mlflow, pandas as pd
        from pathlib import Path
        from customer_segmentation.behaviour import add_behaviour
        from customer_segmentation.datasets import read_text_csv
        mlflow.set_tracking_uri({trained.tracking_uri!r})
        model = mlflow.pyfunc.load_model("models:/{MODEL}/1")
        (pickled,) = Path({str(trained.data(f"{SPARK_DATA}/06_models"))!r}).glob(
            "segmenter.pkl/*/segmenter.pkl")
        segmenter = pickle.loads(pickled.read_bytes())
        lines = read_text_csv({str(trained.data("01_raw/transactions.csv"))!r}, {{}})
        raw = pd.read_csv({str(path)!r}, dtype=str)
        joined = add_behaviour(raw, lines, segmenter.behaviour, "ID").customers
        model.predict(joined).to_json({str(tmp_path / "pandas.json")!r}, orient="records")
        from customer_segmentation.spark import start_session
        from pyspark.sql import functions as F
        spark = start_session({{"spark.master": "local[1]", "spark.ui.enabled": "false"}})
        table = spark.createDataFrame(joined)
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
