"""Tracking end to end: what `kedro run` logs to MLflow, and the registered model serving."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.request

import pandas as pd
import pytest
from mlflow import MlflowClient

from customer_segmentation.data_generator import generate_customers
from customer_segmentation.pipelines.data_processing.nodes import ContentHash

from .conftest import REFERENCE_CSV
from .kedro_project import Project, copy_project
from .servers import running_server

pytestmark = pytest.mark.slow
MODEL = "customer-segmentation"
K_SWEEP_SCORES = ("inertia", "silhouette", "calinski_harabasz", "davies_bouldin")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Project, str, pd.DataFrame]:
    """Two tracked training runs, as two `make run`s, on the reference data where present.

    Returns the project, the raw file trained on and its `customer_segments`.
    """
    project = copy_project(tmp_path_factory.mktemp("tracked"), segment_on="customers")
    raw_path = str(
        REFERENCE_CSV if REFERENCE_CSV.exists() else project.data("01_raw/customers.csv")
    )
    for _ in range(2):
        project.run(f"--params=raw_data_path={raw_path}", tracking=True)
    return project, raw_path, project.read_output("segments")


@pytest.fixture(scope="module")
def client(trained) -> MlflowClient:
    return MlflowClient(tracking_uri=trained[0].tracking_uri)


def test_each_training_run_registers_a_model_version(client):
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert sorted(int(version.version) for version in versions) == [1, 2]
    assert len({version.run_id for version in versions}) == 2


def test_the_run_holds_parameters_metrics_artifacts_and_tags(trained, client):
    project, raw_path, segments = trained
    run = client.get_run(client.get_model_version(MODEL, "2").run_id)
    params = run.data.params
    assert params["kmeans.n_init"] == "10" and params["kmeans.k"] == "auto"
    assert params["raw_schema.columns.Age.max"] == "100"
    assert params["data_quality.max_rejected_share"] == "0.05"
    for score in K_SWEEP_SCORES:
        history = client.get_metric_history(run.info.run_id, f"k_sweep.{score}")
        assert sorted(metric.step for metric in history) == list(range(2, 11))
    metrics = run.data.metrics
    assert metrics["kmeans.k"] == segments["segment"].nunique()
    assert {f"kmeans.{score}" for score in K_SWEEP_SCORES} <= set(metrics)
    assert metrics["data.rows_raw"] == metrics["data.rows_primary"] == len(segments)
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert {"k_selection.csv", "data_quality_summary.json"} <= artifacts
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project.root, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert run.data.tags["git_commit"] == head
    whole = ContentHash()
    whole.update(pd.read_csv(raw_path, dtype=str))  # one chunk: the same hash as the run's
    assert run.data.tags["raw_data_sha256"] == whole.hexdigest()
    assert run.data.tags["kedro_command"] == "kedro run --pipeline=__default__"
    report = project.data("08_reporting/segmentation_report.html").read_text()
    assert run.info.run_id in report


def test_registered_model_predicts_customer_segments_in_a_fresh_process(trained):
    project, raw_path, segments = trained
    output = project.python(
        "import mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model('models:/{MODEL}/latest')\n"
        f"scored = model.predict(pd.read_csv({raw_path!r}))\n"
        "print(scored[['ID', 'segment']].to_json(orient='records'))\n"
    )
    predicted = pd.DataFrame(json.loads(output.strip().splitlines()[-1]))
    assert predicted["ID"].tolist() == segments["ID"].tolist()
    assert predicted["segment"].tolist() == segments["segment"].tolist()


def _run_count(client: MlflowClient) -> int:
    return len(client.search_runs([e.experiment_id for e in client.search_experiments()]))


def test_inference_pipeline_scores_like_training(trained, client):
    project, raw_path, segments = trained
    runs = _run_count(client)
    project.run("--pipelines=inference", f"--params=raw_data_path={raw_path}", tracking=True)
    scored = project.read_output("scored")
    assert scored["ID"].tolist() == segments["ID"].tolist()
    assert scored["segment"].tolist() == segments["segment"].tolist()
    names = json.loads(project.data("07_model_output/segment_names.json").read_text())
    assert scored["reason"].isna().all()
    assert scored["segment_name"].tolist() == [names[str(s)] for s in segments["segment"]]
    assert _run_count(client) == runs  # batch scoring is not tracked unless asked
    project.run("--pipelines=inference", f"--params=raw_data_path={raw_path}", tracking="all")
    scoring_run = client.search_runs([client.get_experiment_by_name(MODEL).experiment_id],
                                     order_by=["start_time DESC"], max_results=1)[0]  # fmt: skip
    assert _run_count(client) == runs + 1 and scoring_run.info.run_name == "inference"
    assert scoring_run.data.params["raw_data_path"] == raw_path


def test_inference_pipeline_scores_good_rows_and_lists_bad_ones(trained):
    project, _, _ = trained
    raw = generate_customers(50, seed=4).astype({"Income": "object"})
    raw.loc[3, "Income"] = "unknown"
    raw.loc[7, "Sex"] = 5
    path = project.data("01_raw/to_score.csv")
    raw.to_csv(path, index=False)
    project.run("--pipelines=inference", f"--params=raw_data_path={path}")
    scored = project.read_output("scored")
    assert scored["ID"].tolist() == raw["ID"].tolist()
    bad = scored[scored["reason"].notna()]
    assert bad.index.tolist() == [3, 7] and bad["segment"].isna().all()
    assert bad["reason"].tolist() == [
        "Income: 'unknown' is not a finite number",
        "Sex: code 5 is not in the legend (0, 1)",
    ]
    assert scored.drop(index=[3, 7])["segment"].notna().all()


def test_tracking_switched_off_logs_no_run(tmp_path):
    project = copy_project(tmp_path, segment_on="customers")
    project.run("--pipelines=data_processing", tracking=False)
    client = MlflowClient(tracking_uri=project.tracking_uri)
    experiment = client.get_experiment_by_name("customer-segmentation")
    assert experiment is None or not client.search_runs([experiment.experiment_id])


def test_mlflow_models_serve_answers_the_same_segments(trained):
    project, raw_path, segments = trained
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/latest",
               "--env-manager", "local", "--host", "127.0.0.1", "--port", "{port}"]  # fmt: skip
    with running_server(command, project.root, project.env(), "/ping", seconds=120) as url:
        raw = pd.read_csv(raw_path).head(300)
        raw.loc[299, "Age"] = 999
        body = {"dataframe_split": json.loads(raw.to_json(orient="split", index=False))}
        request = urllib.request.Request(
            f"{url}/invocations", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = pd.read_json(io.StringIO(json.dumps(json.load(response)["predictions"])))
    assert answer["segment"].tolist()[:299] == segments["segment"].tolist()[:299]
    assert answer.loc[299, "reason"] == "Age: 999 is outside [18, 100]"
