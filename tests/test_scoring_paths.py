"""One scoring path: batch scoring, the registered MLflow model and the HTTP API agree.

For each configuration a tracked `kedro run` trains the segmenter; then the same raw files
(valid rows and seeded bad rows) are scored by `kedro run --pipelines=inference`, by the
MLflow model loaded with `mlflow.pyfunc.load_model` in a fresh process, and over HTTP
(`POST /predict/csv` and `POST /predict`). Segments, names and reasons must be identical.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from customer_segmentation.api import create_app
from customer_segmentation.data_generator import generate_customers
from customer_segmentation.schema import ROW_INDEX

from .conftest import PROJECT_ROOT, PUBLIC_DATA, REFERENCE_CSV, project_parameters
from .kedro_project import Project, copy_project, shop_customers

pytestmark = pytest.mark.slow
LOG_INCOME = {
    "numeric": [
        {"column": "Age", "clip": [0.05, 0.95]},
        {"column": "Income", "transform": "log1p"},
        {"column": "income_per_age", "transform": "signed_log1p"},
        "tenure",
    ],
    "derived": {
        "income_per_age": {"ratio": ["Income", "Age"], "label": "income per year of age"},
        "tenure": {"days_since": "Joined", "label": "days as a customer"},
    },
    "ordinal": ["Education", "Occupation", "Settlement size"],
    "binary": ["Sex", "Marital status"],
    "nominal": [],
    "scaler": "standard",
}


def _with_bad_rows(raw: pd.DataFrame, column: str, id_column: str) -> pd.DataFrame:
    """A copy with a text value, a missing value and a repeated ID."""
    bad = raw.astype({column: "object"})
    bad.loc[1, column] = "n/a"
    bad.loc[4, column] = None
    bad.loc[7, id_column] = bad.loc[6, id_column]
    return bad


def _default(project: Project) -> tuple[str | None, dict[str, pd.DataFrame]]:
    tables = {"training": pd.read_csv(project.data("01_raw/customers.csv"))}
    if REFERENCE_CSV.exists():  # the public file, and seeded bad rows in a copy of it
        tables["reference_with_bad_rows"] = _with_bad_rows(pd.read_csv(REFERENCE_CSV), "Age", "ID")
    else:
        tables["generated_with_bad_rows"] = _with_bad_rows(generate_customers(300, 5), "Age", "ID")
    return None, tables


def _byo(project: Project) -> tuple[str | None, dict[str, pd.DataFrame]]:
    """Text IDs, a text-coded ordinal, and a nominal column whose rare region (5 of 600
    customers) and a region outside the legend score as ``other``."""
    shutil.copytree(PROJECT_ROOT / "tests/fixtures/conf_byo", project.root / "conf/byo")
    training = shop_customers()
    training.loc[[10, 20, 30, 40, 50], "region"] = "islands"
    training.to_csv(project.data("01_raw/shop_customers.csv"), index=False)
    scored = _with_bad_rows(shop_customers(400, seed=9), "yearly_spend", "customer_id")
    scored.loc[[11, 12], "region"] = ["islands", "atlantis"]
    return "byo", {"training": training, "shop_with_bad_rows": scored}


def _joined(count: int, seed: int) -> pd.Series:
    """Days customers joined, written day first, as many European files have them."""
    offsets = pd.to_timedelta(np.random.default_rng(seed).integers(0, 3000, count), unit="D")
    return (pd.Timestamp("2016-01-01") + offsets).strftime("%d/%m/%Y")


def _log_income_no_id(project: Project) -> tuple[str | None, dict[str, pd.DataFrame]]:
    """log1p on Income, Age clipped at training quantiles, a derived feature (income per
    year of age) and days since a date (as of the newest date in the training data), in a
    tab-separated table without an identifier: rows are known by their position."""
    raw_schema = copy.deepcopy(project_parameters()["raw_schema"])
    del raw_schema["id_column"], raw_schema["columns"]["ID"]
    raw_schema["columns"]["Joined"] = {"kind": "date", "format": "%d/%m/%Y"}
    (project.root / "conf/log_income").mkdir()
    (project.root / "conf/log_income/parameters.yml").write_text(
        yaml.safe_dump({"raw_schema": raw_schema, "features": LOG_INCOME})
    )
    tabs = {"type": "customer_segmentation.datasets.RawCSVDataset", "load_args": {"sep": "\t"},
            "filepath": "${runtime_params:raw_data_path, ${globals:raw_data_path}}"}
    (project.root / "conf/log_income/catalog.yml").write_text(
        yaml.safe_dump({"customers_raw": tabs})
    )
    raw = _with_bad_rows(generate_customers(300, 6), "Income", "ID").drop(columns="ID")
    raw.loc[10:14, "Income"] = 0.0  # log1p(0) = 0: the edge of the transform's domain
    raw["Joined"] = _joined(len(raw), 7)
    raw.loc[20, "Joined"] = "31/02/2020"  # no such day
    raw.loc[21, "Joined"] = "2020-02-20"  # another format
    training = pd.read_csv(project.data("01_raw/customers.csv")).drop(columns="ID")
    training["Joined"] = _joined(len(training), 8)
    training.to_csv(project.data("01_raw/customers.csv"), index=False, sep="\t")
    return "log_income", {"training": training, "generated_with_bad_rows": raw}


def _example(env: str, file: str):
    """A committed example environment (conf/<env>/) on its public table, as it is."""

    def case(project: Project) -> tuple[str | None, dict[str, pd.DataFrame | Path]]:
        path = PUBLIC_DATA / file
        if not path.exists():
            pytest.skip(f"public table absent: {path} (see ../shared/data/public/SOURCES.md)")
        return env, {"training": path}

    return case


CASES = {
    "default": _default, "byo": _byo, "log1p_income_no_id": _log_income_no_id,
    "credit_card": _example("credit_card", "credit_card_customers.csv"),
    "bank_marketing": _example("bank_marketing", "bank_marketing.csv"),
}  # fmt: skip
ID_COLUMNS = {"byo": "customer_id", "log_income": ROW_INDEX, "credit_card": "CUST_ID",
              "bank_marketing": ROW_INDEX}  # fmt: skip
SEPARATORS = {"bank_marketing": ";", "log_income": "\t"}
EXAMPLES = ("credit_card", "bank_marketing")  # as conf/<env>/catalog.yml reads the raw file


@pytest.fixture(scope="module", params=list(CASES))
def trained(request, tmp_path_factory) -> tuple[Project, str | None, dict[str, Path]]:
    """A tracked training run of one configuration, and the raw files to score."""
    project = copy_project(tmp_path_factory.mktemp(request.param), segment_on="customers")
    env, tables = CASES[request.param](project)
    paths = {}
    for name, table in tables.items():
        if isinstance(table, Path):  # a file as it is delivered
            paths[name] = table
            continue
        paths[name] = project.data(f"01_raw/score_{name}.csv")
        table.to_csv(paths[name], index=False, sep=SEPARATORS.get(env, ","))
    delivered = isinstance(tables["training"], Path)
    project.run(*([f"--env={env}"] if env else []),
                *([f"--params=raw_data_path={paths['training']}"] if delivered else []),
                tracking=True)  # fmt: skip
    return project, env, paths


def _output(project: Project, env: str | None, relative: str) -> Path:
    """An output of a run in ``env``: under data/<env>/ for the committed examples."""
    return project.data(f"{env}/{relative}" if env in EXAMPLES else relative)


def _batch(project: Project, env: str | None, path: Path) -> pd.DataFrame:
    project.run("--pipelines=inference", f"--params=raw_data_path={path}",
                *([f"--env={env}"] if env else []))  # fmt: skip
    return pd.read_parquet(_output(project, env, "07_model_output/scored_customers.parquet"))


def _mlflow(project: Project, paths: dict[str, Path], sep: str) -> dict[str, pd.DataFrame]:
    """The registered model's answers for each file, from one fresh process."""
    output = project.python(
        "import json, mlflow, pandas as pd\n"
        "model = mlflow.pyfunc.load_model('models:/customer-segmentation/latest')\n"
        f"paths = {json.dumps({name: str(path) for name, path in paths.items()})}\n"
        f"read = lambda path: pd.read_csv(path, sep={sep!r})\n"
        "answers = {name: model.predict(read(path)).to_json(orient='split', index=False)\n"
        "           for name, path in paths.items()}\n"
        "print(json.dumps(answers))\n"
    )
    answers = json.loads(output.strip().splitlines()[-1])
    return {name: pd.read_json(io.StringIO(answer), orient="split", dtype=False)
            for name, answer in answers.items()}  # fmt: skip


def _http(
    project: Project, env: str | None, path: Path, id_column: str, sep: str
) -> pd.DataFrame:
    """Every row's answer over HTTP: reasons from the CSV upload's 422, segments from
    `/predict/csv` and `/predict` on the valid rows."""
    raw = pd.read_csv(path, sep=sep)
    ids = raw.index.to_series() if id_column == ROW_INDEX else raw[id_column]
    answer = pd.DataFrame({id_column: ids, "segment": pd.NA,
                           "segment_name": None, "reason": None})  # fmt: skip
    with TestClient(create_app(project.root, env=env)) as client:
        upload = client.post("/predict/csv", files={"file": ("c.csv", path.read_bytes())})
        if upload.status_code == 422:
            for problem in upload.json()["detail"]:
                answer.loc[problem["record"], "reason"] = problem["message"]
        else:
            assert upload.status_code == 200, upload.text
        valid = raw[answer["reason"].isna()]
        upload = valid.to_csv(index=False, sep=sep)
        csv = client.post("/predict/csv", files={"file": ("c.csv", upload)})
        body = {"customers": json.loads(valid.to_json(orient="records"))}
        predicted = client.post("/predict", json=body)
        assert predicted.status_code == 200, predicted.text[:1000]
        predictions = pd.DataFrame(predicted.json()["predictions"])
    from_csv = pd.read_csv(io.StringIO(csv.text), dtype={id_column: ids.dtype})
    if id_column == ROW_INDEX:  # a request's customers are known by their place in it
        assert predictions[ROW_INDEX].tolist() == from_csv[ROW_INDEX].tolist() == list(
            range(len(valid))
        )
    assert from_csv["segment"].tolist() == predictions["segment"].tolist()
    assert from_csv["segment_name"].tolist() == predictions["segment_name"].tolist()
    answer.loc[valid.index, "segment"] = predictions["segment"].to_numpy()
    answer.loc[valid.index, "segment_name"] = predictions["segment_name"].to_numpy()
    return answer


def _comparable(scored: pd.DataFrame, id_column: str) -> pd.DataFrame:
    return pd.DataFrame({
        id_column: scored[id_column].astype("string"),
        "segment": scored["segment"].astype("Int64"),
        "segment_name": scored["segment_name"].astype("object").where(
            scored["segment_name"].notna(), None),
        "reason": scored["reason"].astype("object").where(scored["reason"].notna(), None),
    })  # fmt: skip


def test_batch_scoring_the_mlflow_model_and_the_api_agree(trained):
    project, env, paths = trained
    id_column, sep = ID_COLUMNS.get(env, "ID"), SEPARATORS.get(env, ",")
    from_mlflow = _mlflow(project, paths, sep)
    for name, path in paths.items():
        batch = _comparable(_batch(project, env, path), id_column)
        mlflow = _comparable(from_mlflow[name], id_column)
        http = _comparable(_http(project, env, path, id_column, sep), id_column)
        pd.testing.assert_frame_equal(mlflow, batch, obj=f"{name}: MLflow vs batch")
        pd.testing.assert_frame_equal(http, batch, obj=f"{name}: API vs batch")
        assert batch["segment"].notna().sum() > 0.9 * len(batch), name
        if name.endswith("bad_rows"):  # ours, and the shop table's own four missing values
            expected = {"byo": 7, "log_income": 4}.get(env, 3)  # no ID: no repeated ID; two dates
            assert batch["reason"].notna().sum() == expected, name
        if name == "training":  # scoring the training file reproduces `customer_segments`
            segments = pd.read_parquet(
                _output(project, env, "07_model_output/customer_segments.parquet")
            )
            scored = batch.dropna(subset=["segment"])
            assert scored["segment"].tolist() == segments["segment"].tolist()
            assert scored[id_column].tolist() == segments[id_column].astype(str).tolist()
    if env in EXAMPLES:
        _assert_an_example_holds_the_rules(project, env)


def _assert_an_example_holds_the_rules(project: Project, env: str) -> None:
    """PRODUCT §5's counts, no segment under min_segment_share, names by column labels."""
    summary = json.loads(
        _output(project, env, "08_reporting/data_quality_summary.json").read_text()
    )
    assert summary["rows_raw"] == summary["rows_primary"] + summary["rows_rejected"]
    assert summary["rejected_share"] <= 0.05
    parameters = project_parameters(env)
    segments = pd.read_parquet(_output(project, env, "07_model_output/customer_segments.parquet"))
    shares = segments["segment"].value_counts(normalize=True)
    assert shares.min() >= parameters["clustering"]["min_segment_share"], shares
    names = json.loads(_output(project, env, "07_model_output/segment_names.json").read_text())
    labelled = [name for name, column in parameters["raw_schema"]["columns"].items()
                if column.get("label") and name not in column["label"]]  # fmt: skip
    for name in names.values():
        assert not [column for column in labelled if column in name], name
