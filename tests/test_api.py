"""The HTTP service: every endpoint, every bad-input rule, and the same segments as the pipeline."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from customer_segmentation.api import create_app

from .conftest import REFERENCE_CSV
from .kedro_project import Project, copy_project
from .servers import running_server
from .test_segments import assert_names_follow_the_rule

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Project, pd.DataFrame]:
    """A project after one tracked `kedro run`, on the reference data where present, of the
    customer table alone (tests/test_behaviour_paths.py serves behaviour)."""
    project = copy_project(tmp_path_factory.mktemp("served"), segment_on="customers")
    raw_path = REFERENCE_CSV if REFERENCE_CSV.exists() else project.data("01_raw/customers.csv")
    project.run(f"--params=raw_data_path={raw_path}", tracking=True)
    return project, pd.read_csv(raw_path)


@pytest.fixture(scope="module")
def client(trained):
    with TestClient(create_app(trained[0].root)) as client:
        yield client


def _body(frame: pd.DataFrame) -> dict:
    return {"customers": json.loads(frame.to_json(orient="records"))}


def test_probes(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_not_ready_until_the_model_is_loaded(trained):
    client = TestClient(create_app(trained[0].root))  # not entered: the lifespan has not run
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 503
    raw = trained[1].head(1)
    assert client.post("/predict", json=_body(raw)).status_code == 503


def test_an_untrained_project_is_served_as_not_ready(tmp_path, caplog):
    project = copy_project(tmp_path)
    with TestClient(create_app(project.root)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 503
        assert client.get("/segments").status_code == 503
    assert "No model to serve" in caplog.text and "run `make run` first" in caplog.text


def test_model_facts(client, trained):
    project, _ = trained
    facts = client.get("/model").json()
    names = json.loads(project.data("07_model_output/segment_names.json").read_text())
    assert facts["algorithm"] == "kmeans" and facts["k"] == len(names) >= 2
    assert {"Sex", "Education"} <= set(facts["features"]["categorical"])
    version = project.latest("06_models/segmenter.pkl").parent.name
    assert facts["dataset"] == "segmenter"
    assert facts["trained_at"] == facts["dataset_version"] == version
    assert facts["registered_model"] == "customer-segmentation"
    assert facts["registered_version"] == 1 and len(facts["mlflow_run_id"]) == 32


def test_segments_have_names_sizes_and_shares(client, trained):
    segments = client.get("/segments").json()["segments"]
    assert [s["segment"] for s in segments] == list(range(client.get("/model").json()["k"]))
    assert sum(s["size"] for s in segments) == len(trained[1])
    assert segments[0]["size"] >= segments[-1]["size"]  # ordered by size
    assert sum(s["share"] for s in segments) == pytest.approx(1)


def test_segments_carry_the_generated_names(client, trained, parameters, raw_schema):
    """On the reference data (k by the knee) every segment gets its own name, by the rule."""
    project, _ = trained
    names = json.loads(project.data("07_model_output/segment_names.json").read_text())
    segments = client.get("/segments").json()["segments"]
    assert [s["segment_name"] for s in segments] == [names[str(s["segment"])] for s in segments]
    assert len(set(names.values())) == len(names) == len(segments)
    profiles = pd.read_csv(project.data("08_reporting/segment_profiles.csv"))
    naming = parameters["reporting"]["naming"]
    assert_names_follow_the_rule(profiles, names, raw_schema, naming["words"], naming["min_effect"])


def test_predict_equals_customer_segments(client, trained):
    project, raw = trained
    answer = client.post("/predict", json=_body(raw))
    assert answer.status_code == 200
    predictions = pd.DataFrame(answer.json()["predictions"])
    segments = project.read_output("segments")
    assert predictions["ID"].tolist() == segments["ID"].tolist()
    assert predictions["segment"].tolist() == segments["segment"].tolist()
    names = json.loads(project.data("07_model_output/segment_names.json").read_text())
    assert predictions["segment_name"].tolist() == [names[str(s)] for s in segments["segment"]]


def test_predict_equals_the_pipeline_on_random_valid_customers(client, trained):
    project, _ = trained
    rng = np.random.default_rng(0)
    customers = pd.DataFrame({
        "ID": np.arange(500),
        "Sex": rng.integers(0, 2, 500), "Marital status": rng.integers(0, 2, 500),
        "Age": rng.integers(18, 101, 500), "Education": rng.integers(0, 4, 500),
        "Income": rng.uniform(0, 400_000, 500).round(2), "Occupation": rng.integers(0, 3, 500),
        "Settlement size": rng.integers(0, 3, 500),
    })  # fmt: skip
    predictions = client.post("/predict", json=_body(customers)).json()["predictions"]
    segmenter = pickle.loads(project.latest("06_models/segmenter.pkl").read_bytes())
    assert [p["segment"] for p in predictions] == segmenter.predict(customers)["segment"].tolist()
    model = pickle.loads(project.latest("06_models/kmeans_model.pkl").read_bytes())
    features = segmenter.features.frame(customers).drop(columns="ID").to_numpy()
    assert [p["segment"] for p in predictions] == model.predict(features).tolist()


def test_serving_k_prototypes(trained, tmp_path):
    """`serving.model` is read by training only: retrain the segmenter, then serve it."""
    project = Project(shutil.copytree(trained[0].root, tmp_path / "copy"))
    project.run("--pipelines=clustering", "--params=serving.model=kprototypes")
    with TestClient(create_app(project.root)) as client:
        assert client.get("/model").json()["algorithm"] == "kprototypes"
        predictions = client.post("/predict", json=_body(trained[1])).json()["predictions"]
    expected = pd.read_parquet(project.data("07_model_output/kprototypes_segments.parquet"))
    assert [p["segment"] for p in predictions] == expected["segment"].tolist()
    names = json.loads(project.data("07_model_output/kprototypes_segment_names.json").read_text())
    assert [p["segment_name"] for p in predictions] == [names[str(s)] for s in expected["segment"]]


def test_kedro_env_chooses_the_configuration_as_for_kedro_run(
    trained, raw_schema, monkeypatch, caplog
):
    """KEDRO_ENV (as the image sets it) picks the configuration; a model trained with another
    feature specification is refused, naming both."""
    project, _ = trained
    other = project.root / "conf" / "narrower"
    other.mkdir(exist_ok=True)
    columns = {**raw_schema["columns"], "Age": {**raw_schema["columns"]["Age"], "max": 99}}
    narrower = {"raw_schema": {**raw_schema, "columns": columns}}
    (other / "parameters.yml").write_text(yaml.safe_dump(narrower))
    monkeypatch.setenv("KEDRO_ENV", "narrower")
    monkeypatch.delenv("CUSTOMER_SEGMENTATION_ENV", raising=False)
    with TestClient(create_app(project.root)) as client:
        spec = client.get("/openapi.json").json()
        assert spec["components"]["schemas"]["Customer"]["properties"]["Age"]["maximum"] == 99
        assert client.get("/ready").status_code == 503
    assert "Not serving: The segmenter version" in caplog.text
    assert "the configuration (env 'narrower') says" in caplog.text
    assert "raw column 'Age': " in caplog.text and "max 100" in caplog.text  # what differs
    assert "max 99, unit years (configuration)" in caplog.text
    assert "kedro run --env=narrower" in caplog.text


@pytest.mark.parametrize(
    ("change", "field", "type_"),
    [
        ({"Age": 150}, "Age", "less_than_equal"),
        ({"Age": 34.5}, "Age", "int_from_float"),
        ({"Income": "lots"}, "Income", "float_parsing"),
        ({"Education": 7}, "Education", "literal_error"),
        ({"Sex": "2"}, "Sex", "literal_error"),
        ({"Sex": None}, "Sex", "missing_value"),
    ],
)
def test_invalid_customer_is_422_naming_record_and_field(client, trained, change, field, type_):
    customers = _body(trained[1].head(3))["customers"]
    customers[2] = customers[2] | change
    answer = client.post("/predict", json={"customers": customers})
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"record": 2, "field": field, "message": answer.json()["detail"][0]["message"],
         "type": type_}
    ]  # fmt: skip


def test_a_customer_is_read_as_the_pipeline_reads_a_raw_row(client, trained):
    """Keys that are no column are ignored; a null is a missing value, named as in batch."""
    customers = _body(trained[1].head(2))["customers"]
    customers[0] = customers[0] | {"Colour": "red", "Notes": None}
    answer = client.post("/predict", json={"customers": customers})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 2
    customers[1] = customers[1] | {"Income": None}
    problem = client.post("/predict", json={"customers": customers}).json()["detail"]
    assert problem == [{"record": 1, "field": "Income", "message": "Income: missing value",
                        "type": "missing_value"}]  # fmt: skip


def test_missing_field_and_malformed_bodies_are_422(client, trained):
    customer = _body(trained[1].head(1))["customers"][0]
    del customer["Income"]
    detail = client.post("/predict", json={"customers": [customer]}).json()["detail"]
    assert detail[0]["record"] == 0 and detail[0]["field"] == "Income"
    for body in ({"customers": []}, {}, {"customers": "x"}, [1, 2]):
        assert client.post("/predict", json=body).status_code == 422
    malformed = client.post(
        "/predict", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422


def test_oversized_batch_and_body_are_413(trained):
    project, raw = trained
    with TestClient(create_app(project.root, max_batch=5, max_body_bytes=4000)) as client:
        assert client.post("/predict", json=_body(raw.head(6))).status_code == 413
        assert client.post("/predict", json=_body(raw.head(5))).status_code == 200
        too_big = client.post("/predict", json=_body(raw.head(40)))
        assert too_big.status_code == 413 and "4000 bytes" in too_big.json()["detail"]
        csv = raw.head(6).to_csv(index=False)
        upload = client.post("/predict/csv", files={"file": ("c.csv", csv, "text/csv")})
        assert upload.status_code == 413


def test_api_key_when_configured(trained):
    project, raw = trained
    with TestClient(create_app(project.root, api_key="s3cret")) as client:
        assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200
        assert client.get("/model").status_code == 401
        assert client.post("/predict", json=_body(raw.head(1))).status_code == 401
        wrong = client.get("/model", headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401
        assert client.get("/model", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_cors_is_off_by_default(client):
    preflight = client.options("/predict", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in preflight.headers


def test_predict_csv_answers_csv(client, trained):
    project, raw = trained
    upload = client.post(
        "/predict/csv", files={"file": ("c.csv", raw.to_csv(index=False), "text/csv")}
    )
    assert upload.status_code == 200 and upload.headers["content-type"].startswith("text/csv")
    answer = pd.read_csv(io.StringIO(upload.text))
    assert list(answer.columns) == ["ID", "segment", "segment_name"]
    assert answer["segment"].tolist() == project.read_output("segments")["segment"].tolist()


def test_an_upload_is_read_as_the_raw_files_are_written(trained, monkeypatch):
    """The separator, encoding and decimal mark of ``customers_raw`` hold for uploads too:
    the file batch scoring reads is the file the API takes."""
    project, raw = trained
    env = project.root / "conf" / "semicolons"
    env.mkdir(exist_ok=True)
    written = {"sep": ";", "encoding": "latin-1", "decimal": ","}
    raw_file = project.data("01_raw/semicolons.csv")
    entry = {"type": "customer_segmentation.datasets.RawCSVDataset",
             "filepath": str(raw_file), "load_args": written}  # fmt: skip
    (env / "catalog.yml").write_text(yaml.safe_dump({"customers_raw": entry}))
    table = raw.assign(Région="Île-de-France", Income=raw["Income"] + 0.5)
    raw_file.write_bytes(table.to_csv(index=False, sep=";", decimal=",").encode("latin-1"))
    project.run("--env=semicolons", "--pipelines=inference")
    scored = project.read_output("scored")
    assert scored["reason"].isna().all()
    monkeypatch.setenv("KEDRO_ENV", "semicolons")
    monkeypatch.delenv("CUSTOMER_SEGMENTATION_ENV", raising=False)
    with TestClient(create_app(project.root)) as semicolons:
        upload = semicolons.post("/predict/csv", files={"file": ("c.csv", raw_file.read_bytes())})
    assert upload.status_code == 200, upload.text
    answer = pd.read_csv(io.StringIO(upload.text))
    assert answer["segment"].tolist() == scored["segment"].tolist()


@pytest.mark.parametrize(
    ("dataset", "file", "bad"),
    [("pandas.ParquetDataset", "customers.parquet", None),  # a typed column: a null
     ("pandas.ExcelDataset", "customers.xlsx", "old")],  # a cell of text in a number column
)  # fmt: skip
def test_a_parquet_or_excel_source_is_checked_and_scored_as_a_csv(trained, dataset, file, bad):
    """Typed cells from Parquet or Excel go through the same rules and the same segmenter."""
    project, raw = trained
    env = project.root / "conf" / file.replace(".", "_")
    env.mkdir(exist_ok=True)
    raw_file = project.data(f"01_raw/{file}")
    entry = {"type": dataset, "filepath": str(raw_file)}
    (env / "catalog.yml").write_text(yaml.safe_dump({"customers_raw": entry}))
    table = raw.astype({"Age": "object"})
    table.loc[3, "Age"] = bad
    (table.to_parquet if file.endswith(".parquet") else table.to_excel)(raw_file, index=False)
    project.run(f"--env={env.name}", "--pipelines=inference")
    scored = project.read_output("scored").set_index("ID")
    expected = "Age: missing value" if bad is None else "Age: 'old' is not an integer"
    assert scored["reason"].dropna().to_dict() == {raw.loc[3, "ID"]: expected}
    segments = project.read_output("segments").set_index("ID")["segment"]
    valid = scored.drop(index=raw.loc[3, "ID"])
    assert valid["segment"].astype(int).to_dict() == segments.drop(index=raw.loc[3, "ID"]).to_dict()


def test_predict_csv_rejects_bad_files_with_422(client, trained):
    raw = trained[1].head(5).astype({"Age": "object"})
    raw.loc[3, "Age"] = "old"
    bad_row = client.post("/predict/csv", files={"file": ("c.csv", raw.to_csv(index=False))})
    assert bad_row.status_code == 422
    assert bad_row.json()["detail"] == [
        {
            "record": 3,
            "field": None,
            "message": "Age: 'old' is not an integer",
            "type": "invalid_row",
        }
    ]
    no_income = raw.drop(columns="Income").to_csv(index=False)
    missing = client.post("/predict/csv", files={"file": ("c.csv", no_income)})
    assert missing.status_code == 422 and "Income" in missing.json()["detail"][0]["message"]
    for content in (b"", b"\x00\xff\xfe", b"just one line"):
        assert client.post("/predict/csv", files={"file": ("c.csv", content)}).status_code == 422


def test_pca_projects_onto_the_training_plane(client, trained):
    raw = trained[1].head(20)
    answer = client.post("/pca", json=_body(raw)).json()
    assert len(answer["explained_variance_ratio"]) == 2
    predictions = client.post("/predict", json=_body(raw)).json()["predictions"]
    assert [p["segment"] for p in answer["points"]] == [p["segment"] for p in predictions]
    assert all(
        isinstance(p["pc1"], float) and isinstance(p["pc2"], float) for p in answer["points"]
    )


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    assert {"/health", "/ready", "/model", "/segments", "/predict", "/predict/csv", "/pca"} <= set(
        spec["paths"]
    )
    customer = spec["components"]["schemas"]["Customer"]
    assert "additionalProperties" not in customer  # other keys are ignored, as in a raw file
    assert customer["properties"]["Age"]["maximum"] == 100
    assert customer["properties"]["Income"]["description"].startswith("Income (USD per year)")
    assert set(customer["required"]) == {"ID", "Sex", "Marital status", "Age", "Education",
                                         "Income", "Occupation", "Settlement size"}  # fmt: skip
    assert client.get("/docs").status_code == 200


@pytest.fixture(scope="module")
def uvicorn_server(trained):
    """The service under a real uvicorn on 127.0.0.1, as `make serve` starts it."""
    project, _ = trained
    env = project.env() | {"CUSTOMER_SEGMENTATION_PROJECT": str(project.root)}
    command = [sys.executable, "-m", "uvicorn", "customer_segmentation.api:create_app",
               "--factory", "--host", "127.0.0.1", "--port", "{port}"]  # fmt: skip
    with running_server(command, project.root, env, "/ready") as url:
        yield url


def test_real_uvicorn_on_loopback(uvicorn_server, trained):
    import httpx

    project, raw = trained
    answer = httpx.post(f"{uvicorn_server}/predict", json=_body(raw.head(100)), timeout=30)
    assert answer.status_code == 200
    expected = project.read_output("segments")["segment"].tolist()[:100]
    assert [p["segment"] for p in answer.json()["predictions"]] == expected


def test_schemathesis_finds_no_failure(uvicorn_server):
    """Every check schemathesis has, 25 examples per operation, against the running service.

    One exception: OpenAPI cannot say that the upload of ``/predict/csv`` must be a CSV with
    the schema's columns, so random bytes are rightly refused there (422), which the
    "positive data acceptance" check would count as a failure.
    """
    import schemathesis
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_url(f"{uvicorn_server}/openapi.json")
    for result in schema.get_all_operations():
        operation = result.ok()
        excluded = [positive_data_acceptance] if operation.path == "/predict/csv" else []
        _check_operation(operation, excluded)


def _check_operation(operation, excluded: list) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy())
    def check(case):
        case.call_and_validate(excluded_checks=excluded)

    check()
