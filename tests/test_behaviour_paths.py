"""Segmenting on behaviour end to end: the embedded run on demographics and behaviour, one
scoring path from transactions (batch scoring, the MLflow model, the API), and a log alone.
"""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from customer_segmentation.api import create_app
from customer_segmentation.behaviour import RFM_SEGMENTS

from .conftest import PUBLIC_DATA
from .kedro_project import Project, copy_project

pytestmark = pytest.mark.slow
BEHAVIOUR = ["recency_days", "frequency", "monetary_total"]


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory) -> Project:
    """One tracked `kedro run` of the embedded data: customers and their order log."""
    project = copy_project(tmp_path_factory.mktemp("behaviour"))
    project.run(tracking=True)
    return project


def _segmenter(project: Project):
    return pickle.loads(project.latest("06_models/segmenter.pkl").read_bytes())


def test_the_embedded_run_segments_on_demographics_and_behaviour(embedded_run):
    project = embedded_run
    segmenter = _segmenter(project)
    assert list(segmenter.spec.numeric) == ["Age", "Income", *BEHAVIOUR]
    assert segmenter.behaviour is not None
    segments = project.read_output("segments")
    assert len(segments) == 2000 and project.read_output("rejected").empty
    crosstab = pd.read_csv(project.data("08_reporting/segment_rfm_crosstab.csv"))
    assert list(crosstab.columns) == ["segment", *(name for name, _, _ in RFM_SEGMENTS)]
    assert crosstab.drop(columns="segment").to_numpy().sum() == 2000
    assert sorted(crosstab["segment"]) == sorted(segmenter.names.values())
    report = project.data("08_reporting/segmentation_report.html").read_text()
    assert "Segments against RFM groups" in report and "time since the last order" in report
    profiles = pd.read_csv(project.data("08_reporting/segment_profiles.csv"))
    assert {f"{name} mean" for name in BEHAVIOUR} <= set(profiles.columns)
    summary = json.loads(project.data("08_reporting/transactions_quality_summary.json").read_text())
    assert summary["lines_raw"] == summary["lines_kept"] + summary["lines_rejected"] > 30_000
    project.run("--pipelines=data_processing")  # alone, it joins the behaviour first
    primary = project.read_output("primary")
    assert len(primary) == 2000 and set(BEHAVIOUR) <= set(primary.columns)


def _as_of(log: pd.DataFrame) -> str:
    """The day after the newest line: the date training described behaviour at."""
    return str((pd.to_datetime(log["timestamp"]).max().normalize() + pd.Timedelta(days=1)).date())


def test_batch_scoring_the_mlflow_model_and_the_api_score_transactions_alike(embedded_run):
    project = embedded_run
    customers = pd.read_csv(project.data("01_raw/customers.csv")).iloc[::40]  # 50 customers
    path = project.data("01_raw/to_score.csv")
    customers.to_csv(path, index=False)
    output = project.run("--pipelines=inference", f"--params=raw_data_path={path}")
    assert "Ignoring columns" not in output  # the behaviour joined but not segmented on
    batch = project.read_output("scored").set_index("ID")
    trained = project.read_output("segments").set_index("ID").loc[customers["ID"]]
    assert batch["segment"].tolist() == trained["segment"].tolist()
    no_income = "data/01_raw/no_income.csv"
    customers.drop(columns="Income").to_csv(project.root / no_income, index=False)
    output = project.run("--pipelines=inference", f"--params=raw_data_path={no_income}",
                         expect_success=False)  # fmt: skip
    assert f"Raw file '{no_income}' lacks required column(s) 'Income'" in output

    log = pd.read_csv(project.data("01_raw/transactions.csv"), dtype="str")
    lines = log[log["customer_id"].astype(int).isin(customers["ID"])]
    requests = [
        {**row, "transactions": lines[lines["customer_id"] == str(row["ID"])]
         .drop(columns="customer_id").to_dict("records")}
        for row in json.loads(customers.to_json(orient="records"))
    ]  # fmt: skip
    body = {"as_of": _as_of(log), "customers": requests}
    with TestClient(create_app(project.root)) as client:
        answer = client.post("/predict", json=body)
        assert answer.status_code == 200, answer.text[:2000]
        from_api = pd.DataFrame(answer.json()["predictions"]).set_index("ID")
        assert from_api["segment"].tolist() == trained["segment"].tolist()
        assert from_api["segment_name"].tolist() == batch["segment_name"].tolist()

        behaviour = pd.read_parquet(project.data("04_feature/customer_behaviour.parquet"))
        with_values = customers.merge(behaviour[["ID", *BEHAVIOUR]], on="ID")
        body = {"customers": json.loads(with_values.to_json(orient="records"))}
        by_values = pd.DataFrame(client.post("/predict", json=body).json()["predictions"])
        assert by_values["segment"].tolist() == trained["segment"].tolist()

        first = {**body["customers"][0]}
        del first["frequency"]
        bad_line = {**body_line(lines), "unit_price": "lots"}
        refused = client.post("/predict", json={"customers": [
            first, {**body["customers"][1], "transactions": [bad_line]}]})  # fmt: skip
        assert refused.status_code == 422
        problems = refused.json()["detail"]
        assert problems[0]["record"] == 0 and "frequency: missing value" in problems[0]["message"]

        refused = client.post("/predict", json={"customers": [
            {**body["customers"][1], "transactions": [bad_line]}], "as_of": _as_of(log)})
        assert refused.status_code == 422
        assert refused.json()["detail"] == [{
            "record": 0, "field": "transactions", "type": "invalid_line",
            "message": "line 0: unit_price: 'lots' is not a finite number"}]  # fmt: skip

    # The MLflow model takes the values, or each customer's lines, as the API does
    with_values.to_csv(path, index=False)
    posted = project.data("01_raw/posted.json")
    posted.write_text(json.dumps([{**customer, "as_of": _as_of(log)} for customer in
                                  requests]))  # a `transactions` column of lists of lines
    output = project.python(
        "import mlflow, pandas as pd\n"
        "model = mlflow.pyfunc.load_model('models:/customer-segmentation/latest')\n"
        f"for table in (pd.read_csv({str(path)!r}), pd.read_json({str(posted)!r}, dtype=False)):\n"
        "    print('ANSWER', model.predict(table).to_json(orient='split', index=False))\n"
    )
    answers = [line.removeprefix("ANSWER ") for line in output.splitlines()
               if line.startswith("ANSWER ")]  # fmt: skip
    assert len(answers) == 2, output[-3000:]
    for answer in answers:
        from_mlflow = pd.read_json(io.StringIO(answer), orient="split")
        assert from_mlflow["segment"].tolist() == trained["segment"].tolist()


def body_line(lines: pd.DataFrame) -> dict:
    """One line of the log as a request carries it: without the customer column."""
    return lines.drop(columns="customer_id").iloc[0].to_dict()


def test_a_transaction_log_alone_is_segmented_and_scored(tmp_path):
    project = copy_project(tmp_path, segment_on="behaviour")
    assert "Ignoring columns" not in project.run()  # the behaviour not segmented on
    segmenter = _segmenter(project)
    assert list(segmenter.spec.numeric) == BEHAVIOUR and not segmenter.spec.categorical
    log = pd.read_csv(project.data("01_raw/transactions.csv"))
    segments = project.read_output("segments")
    assert sorted(segments["ID"]) == sorted(log["customer_id"].unique())
    assert "Ignoring columns" not in project.run("--pipelines=inference")
    scored = project.read_output("scored")
    assert scored["reason"].isna().all()
    merged = segments.merge(scored, on="ID", suffixes=("", "_scored"))
    assert len(merged) == len(segments)
    assert np.array_equal(merged["segment"], merged["segment_scored"])


def test_the_public_order_log_is_trained_scored_and_served(tmp_path):
    """`conf/sales_orders`: a log alone, with the customers' country, territory and deal size
    from their lines, from the delivered file to segments over HTTP."""
    path = PUBLIC_DATA / "sales_orders.csv"
    if not path.exists():
        pytest.skip(f"public data absent: {path} (see ../shared/data/public/SOURCES.md)")
    project = copy_project(tmp_path)
    options = ["--env=sales_orders", f"--params=transactions_data_path={path}"]
    project.run(*options)
    data = project.data("sales_orders")
    summary = json.loads((data / "08_reporting/transactions_quality_summary.json").read_text())
    rejected = pd.read_csv(data / "02_intermediate/transactions_rejected.csv")
    assert summary["lines_raw"] == 2823 == summary["lines_kept"] + len(rejected)
    segments = pd.read_parquet(data / "07_model_output/customer_segments.parquet")
    log = pd.read_csv(path, encoding="cp850", keep_default_na=False, na_values=[""])
    assert sorted(segments["CUSTOMERNAME"]) == sorted(log["CUSTOMERNAME"].unique())  # 92
    names = json.loads((data / "07_model_output/segment_names.json").read_text())
    assert len(set(names.values())) == len(names)
    assert not [name for name in names.values() if "_" in name or "share_" in name]
    primary = pd.read_parquet(data / "03_primary/customers_primary.parquet").set_index(
        "CUSTOMERNAME")
    assert primary.loc["Land of Toys Inc.", "TERRITORY"] == "NA"  # North America, not missing
    assert primary.loc["Reims Collectables", "COUNTRY"] == "France"

    project.run("--pipelines=inference", *options)
    scored = pd.read_parquet(data / "07_model_output/scored_customers.parquet")
    expected = segments.set_index("CUSTOMERNAME")["segment"]
    assert scored.set_index("CUSTOMERNAME")["segment"].astype(int).to_dict() == expected.to_dict()

    chosen = sorted(log["CUSTOMERNAME"].unique())[:10]
    customers = primary.loc[chosen, ["COUNTRY", "TERRITORY", "DEALSIZE"]].reset_index()
    text = pd.read_csv(path, dtype="str", encoding="cp850", keep_default_na=False,
                       na_values=[""]).drop(columns=["COUNTRY", "TERRITORY", "DEALSIZE"])
    lines = text.astype(object).where(text.notna(), None)  # as JSON has them: null
    body = {"as_of": "2005-06-01", "customers": [
        {**customer, "transactions": lines[lines["CUSTOMERNAME"] == customer["CUSTOMERNAME"]]
         .drop(columns="CUSTOMERNAME").to_dict("records")}
        for customer in customers.to_dict("records")
    ]}  # fmt: skip
    with TestClient(create_app(project.root, env="sales_orders")) as client:
        answer = client.post("/predict", json=body)
    assert answer.status_code == 200, answer.text[:2000]
    served = pd.DataFrame(answer.json()["predictions"]).set_index("CUSTOMERNAME")["segment"]
    assert served.to_dict() == expected.loc[chosen].to_dict()
