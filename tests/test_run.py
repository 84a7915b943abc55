"""End-to-end: `kedro run` in a temporary copy of the project, as a user runs it."""

from __future__ import annotations

import copy
import json
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from customer_segmentation.api import create_app
from customer_segmentation.data_generator import generate_customers

from .conftest import PROJECT_ROOT, REFERENCE_CSV, project_parameters
from .kedro_project import OUTPUTS, Project, copy_project, shop_customers

pytestmark = pytest.mark.slow
OUTPUTS_KPROTOTYPES = "07_model_output/kprototypes_segments.parquet"
LAYERS = (
    "02_intermediate",
    "03_primary",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> tuple[Project, str]:
    """One `kedro run` of the default pipeline on the embedded data."""
    project = copy_project(tmp_path_factory.mktemp("project"))
    return project, project.run()


@pytest.fixture
def project(tmp_path) -> Project:
    """A copy that segments on the customer table alone: its tests bring other tables
    (tests/test_behaviour_paths.py runs the log)."""
    return copy_project(tmp_path, segment_on="customers")


def test_default_run_writes_every_layer(default_run):
    project, output = default_run
    primary, segments = project.read_output("primary"), project.read_output("segments")
    assert len(primary) == 2000 and project.read_output("rejected").empty
    assert segments["ID"].tolist() == primary["ID"].tolist()
    assert list(project.read_output("model_input").columns[:1]) == ["ID"]
    summary = json.loads(project.data("08_reporting/data_quality_summary.json").read_text())
    assert summary["rows_raw"] == summary["rows_primary"] == 2000
    k_selection = pd.read_csv(project.data("08_reporting/k_selection.csv"))
    assert k_selection["k"].tolist() == list(range(2, 11))
    model = pickle.loads(project.latest("06_models/kmeans_model.pkl").read_bytes())
    assert segments["segment"].nunique() == model.n_clusters
    assert project.latest("06_models/preprocessor.pkl").exists()
    assert "k sweep: k=10 done (9 of 9)" in output and "Pipeline execution completed" in output
    assert "register_new_resolver" not in output  # Kedro's notice to itself (settings.py)
    # The behaviour columns it does not segment on are its own, not columns of the user's
    # file that the schema leaves out.
    assert "Ignoring columns" not in output
    kprototypes = pickle.loads(project.latest("06_models/kprototypes_model.pkl").read_bytes())
    kprototypes_segments = pd.read_parquet(project.data(OUTPUTS_KPROTOTYPES))
    assert kprototypes_segments["ID"].tolist() == primary["ID"].tolist()
    assert kprototypes_segments["segment"].nunique() == kprototypes.n_clusters
    assert "K-Prototypes sweep (fast engine, 2000 rows): k=8 done (7 of 7)" in output
    names = json.loads(project.data("07_model_output/segment_names.json").read_text())
    assert len(names) == model.n_clusters and len(set(names.values())) == len(names)
    report = project.data("08_reporting/segmentation_report.html").read_text()
    assert all(name in report for name in names.values())
    for plot in ("elbow_plot", "k_scores_plot", "silhouette_plot", "pca_plot", "feature_heatmap",
                 "segment_sizes_plot", "model_agreement_plot"):  # fmt: skip
        assert json.loads(project.data(f"08_reporting/{plot}.json").read_text())["data"]


def test_clustering_runs_alone_once_its_inputs_exist(default_run):
    project, _ = default_run
    before = project.read_output("segments")
    output = project.run("--pipelines=clustering")
    assert "validate_customers" not in output
    assert len(list(project.data("06_models/kmeans_model.pkl").iterdir())) == 2
    pd.testing.assert_frame_equal(project.read_output("segments"), before)


def test_clustering_with_the_kmodes_engine(default_run):
    project, _ = default_run
    settings = "kprototypes.engine=kmodes,kprototypes.n_init=2,kprototypes.k_max=4"
    output = project.run("--pipelines=clustering", f"--params={settings}")
    assert "K-Prototypes sweep (kmodes engine, 2000 rows): k=4 done (3 of 3)" in output
    assert len(list(project.data("06_models/kprototypes_model.pkl").iterdir())) == 3


def test_batch_scoring_can_serve_k_prototypes(default_run):
    """`serving.model` is read when the segmenter is built, at the end of clustering."""
    project, _ = default_run
    project.run("--pipelines=clustering", "--params=serving.model=kprototypes")
    project.run("--pipelines=inference")
    scored = project.read_output("scored")
    expected = pd.read_parquet(project.data(OUTPUTS_KPROTOTYPES))
    assert scored["segment"].tolist() == expected["segment"].tolist()


NOT_FOR_SCORING = ("plotly", "numba", "kmodes", "sklearn")


def _imported_packages(project: Project, *args: str) -> set[str]:
    """Top-level packages a fresh ``python -X importtime ARGS`` in the project imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args], cwd=project.root, env=project.env(),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.split("|")[-1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:")]  # fmt: skip
    return {name.split(".")[0] for name in lines}


def _written_at(project: Project, output: str) -> int:
    return project.data(OUTPUTS[output]).stat().st_mtime_ns


def test_batch_scoring_imports_only_what_scoring_needs(default_run):
    """Batch scoring loads no plotting, fitting or kmodes code; the project's own command and
    a session run load no MLflow either. (The ``kedro`` command imports MLflow whatever it
    runs: kedro-mlflow's command-line entry point imports it.)"""
    project, _ = default_run
    command = _imported_packages(project, "-m", "kedro", "run", "--pipelines=inference")
    assert "pandas" in command and not command & set(NOT_FOR_SCORING)
    scored_by_kedro, written = project.read_output("scored"), _written_at(project, "scored")
    own = _imported_packages(project, "-m", "customer_segmentation", "--pipelines=inference")
    assert "pandas" in own and not own & {*NOT_FOR_SCORING, "mlflow", "kedro_mlflow"}
    assert _written_at(project, "scored") > written
    pd.testing.assert_frame_equal(project.read_output("scored"), scored_by_kedro)
    session = ("from kedro.framework.session import KedroSession\n"
               "from kedro.framework.startup import bootstrap_project\n"
               "bootstrap_project('.')\n"
               "with KedroSession.create() as session:\n"
               "    session.run(pipeline_names=['inference'])")  # fmt: skip
    imported = _imported_packages(project, "-c", session)
    assert "pandas" in imported and not imported & {*NOT_FOR_SCORING, "mlflow", "kedro_mlflow"}
    assert project.read_output("scored")["segment"].notna().all()


def test_behaviour_pipeline_accounts_for_every_line_and_describes_every_customer(default_run):
    project, _ = default_run
    log = project.data("01_raw/transactions.csv")
    with log.open("a") as file:  # a line of an unknown customer, one with a bad amount
        file.write("999999,1,2025-03-01 10:00:00,home,web,1,9.5,Shipped\n"
                   "999998,100000001,2025-03-02 10:00:00,home,web,1,lots,Shipped\n")  # fmt: skip
    project.run("--pipelines=behaviour")
    summary = json.loads(project.data("08_reporting/transactions_quality_summary.json").read_text())
    rejected = pd.read_csv(project.data("02_intermediate/transactions_rejected.csv"))
    lines = len(pd.read_csv(log))
    assert summary["lines_raw"] == lines == summary["lines_kept"] + len(rejected)
    assert "customer_id: 1 is not in the customer table" in rejected["reason"].tolist()
    assert "unit_price: 'lots' is not a finite number" in rejected["reason"].tolist()
    behaviour = pd.read_parquet(project.data("04_feature/customer_behaviour.parquet"))
    primary = pd.read_parquet(project.data("03_primary/customers_primary.parquet"))
    assert behaviour["ID"].tolist() == primary["ID"].tolist() and not behaviour.isna().any().any()
    rfm = pd.read_parquet(project.data("07_model_output/rfm_segments.parquet"))
    assert rfm["ID"].tolist() == primary["ID"].tolist() and rfm["rfm_segment"].nunique() >= 8


@pytest.mark.skipif(not REFERENCE_CSV.exists(), reason=f"reference data absent: {REFERENCE_CSV}")
def test_reference_data_through_raw_data_path(project):
    output = project.run(f"--params=raw_data_path={REFERENCE_CSV}")
    primary, segments = project.read_output("primary"), project.read_output("segments")
    assert len(primary) == 2000 and project.read_output("rejected").empty
    assert segments["ID"].tolist() == pd.read_csv(REFERENCE_CSV)["ID"].tolist()
    k = pickle.loads(project.latest("06_models/kmeans_model.pkl").read_bytes()).n_clusters
    assert 3 <= k <= 6 and f"Chose k={k} at the knee" in output


def test_seeded_bad_rows_are_quarantined_with_reasons(project):
    raw = generate_customers(200, seed=11).astype({"Age": "object", "Income": "object"})
    raw.loc[10, "Occupation"] = np.nan
    raw.loc[20, "Education"] = 9
    raw.loc[30, "Age"] = 130
    raw.loc[40, "ID"] = raw.loc[39, "ID"]
    raw.loc[50, "Income"] = "fifty thousand"
    path = project.data("01_raw/bad_rows.csv")
    raw.to_csv(path, index=False)
    project.run(f"--params=raw_data_path={path}")
    primary, rejected = project.read_output("primary"), project.read_output("rejected")
    assert len(primary) + len(rejected) == len(raw) == 200
    assert dict(zip(rejected["raw_row"], rejected["reason"], strict=True)) == {
        10: "Occupation: missing value",
        20: "Education: code 9 is not in the legend (0, 1, 2, 3)",
        30: "Age: 130 is outside [18, 100]",
        40: f"ID: {raw.loc[39, 'ID']} repeats an earlier row's ID",
        50: "Income: 'fifty thousand' is not a finite number",
    }
    assert len(project.read_output("segments")) == 195


def test_missing_column_stops_before_any_model_input_or_model(project):
    path = project.data("01_raw/no_income.csv")
    generate_customers(100, seed=1).drop(columns="Income").to_csv(path, index=False)
    output = project.run(f"--params=raw_data_path={path}", expect_success=False)
    assert f"RawDataError: Raw file '{path}' lacks required column(s) 'Income'" in output
    assert project.written_outputs("05_model_input") == []
    assert project.written_outputs("06_models") == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty: it needs a header row with the raw_schema's columns"),
        (
            "ID,Sex,Marital status,Age,Education,Income,Occupation,Settlement size\n",
            "has a header but no data rows",
        ),
    ],
)
def test_empty_file_stops_naming_the_file(project, content, expected):
    path = project.data("01_raw/empty.csv")
    path.write_text(content)
    output = project.run(f"--params=raw_data_path={path}", expect_success=False)
    assert str(path) in output and expected in output
    assert project.written_outputs("06_models") == []


def test_unreadable_file_stops_naming_the_file(project):
    path = project.data("01_raw/does_not_exist.csv")
    output = project.run(f"--params=raw_data_path={path}", expect_success=False)
    assert str(path) in output and "No such file or directory" in output


def test_too_many_rejected_rows_fail_the_run_and_keep_the_rejects(project):
    raw = generate_customers(100, seed=2).astype({"Age": "float64"})
    raw.loc[:9, "Age"] = np.nan
    path = project.data("01_raw/mostly_bad.csv")
    raw.to_csv(path, index=False)
    output = project.run(f"--params=raw_data_path={path}", expect_success=False)
    assert "RejectedShareError: 10 of 100 rows (10.0%)" in output
    assert len(project.read_output("rejected")) == 10
    assert project.written_outputs("05_model_input") == []


def test_bring_your_own_table_by_configuration_only(project):
    """Another table shape, a conf environment, and no code: the whole default pipeline."""
    shutil.copytree(PROJECT_ROOT / "tests" / "fixtures" / "conf_byo", project.root / "conf" / "byo")
    table = shop_customers()
    table.to_csv(project.data("01_raw/shop_customers.csv"), index=False)

    project.run("--env=byo")
    primary, rejected = project.read_output("primary"), project.read_output("rejected")
    assert len(primary) == 596 and sorted(rejected["raw_row"]) == [5, 77, 123, 300]
    assert set(rejected["reason"]) == {"age_years: missing value", "region: missing value"}
    model_input = project.read_output("model_input")
    assert {"region_north", "region_other", "loyalty_tier"} <= set(model_input.columns)
    segments = project.read_output("segments")
    assert segments["customer_id"].tolist() == primary["customer_id"].tolist()


def test_identifiers_are_kept_exactly_and_impossible_ones_rejected(project):
    """Validation and batch scoring keep 64-bit IDs as delivered; `inf`, `1e400` and 2^63 are
    rejected with a reason, never rounded, merged or crashed on."""
    project.run()
    raw = generate_customers(120, seed=12).astype({"ID": "object"})
    exact = ["1234567890123456789", "9007199254740992", "9007199254740993"]
    raw.loc[:2, "ID"] = exact
    raw.loc[3:6, "ID"] = [str(2**63), "inf", "-inf", "1e400"]
    path = project.data("01_raw/big_ids.csv")
    raw.to_csv(path, index=False)
    project.run("--pipelines=data_processing", f"--params=raw_data_path={path}")
    primary, rejected = project.read_output("primary"), project.read_output("rejected")
    assert [str(i) for i in primary["ID"][:3]] == exact
    assert rejected["reason"].tolist() == [
        "ID: '9223372036854775808' does not fit a 64-bit integer; declare the identifier "
        "`dtype: str` to keep it as text",
        "ID: 'inf' is not an integer", "ID: '-inf' is not an integer",
        "ID: '1e400' is not an integer",
    ]  # fmt: skip
    project.run("--pipelines=inference", f"--params=raw_data_path={path}")
    scored = project.read_output("scored")
    assert [str(i) for i in scored["ID"][:3]] == exact and scored["segment"][:3].notna().all()
    assert scored["reason"][3:7].notna().all() and len(scored) == len(raw)


def test_a_byte_invalid_in_the_encoding_names_its_line_and_the_option(project):
    path = project.data("01_raw/latin1.csv")
    lines = generate_customers(30, seed=3).to_csv(index=False).splitlines()
    lines[5] = lines[5].replace(",", ",", 1) + "\u00e9"  # an accented letter in latin-1 bytes
    path.write_bytes("\n".join(lines).encode("latin-1"))
    output = project.run(f"--params=raw_data_path={path}", expect_success=False)
    assert f"Raw file '{path}': byte b'\\xe9' on line 6 (data row 4) is not valid utf-8" in output
    assert "load_args: {encoding: latin-1}" in output
    assert project.written_outputs("06_models") == []


def test_a_numeric_only_table_fits_kmeans_alone(project):
    """K-Prototypes needs categorical features: without any it is skipped with one line, the
    tracked run logs K-Means' model, and a run that cannot serve what is asked says why."""
    income = "Annual Income (k$)"  # a name MLflow refuses as a parameter name
    raw_schema = copy.deepcopy(project_parameters()["raw_schema"])
    raw_schema["columns"] = {income if name == "Income" else name: column
                             for name, column in raw_schema["columns"].items()}  # fmt: skip
    (project.root / "conf" / "numeric").mkdir()
    (project.root / "conf" / "numeric" / "parameters.yml").write_text(yaml.safe_dump({
        "raw_schema": raw_schema,
        "features": {"numeric": ["Age", income], "ordinal": [], "binary": [], "nominal": []},
    }))  # fmt: skip
    raw = pd.read_csv(project.data("01_raw/customers.csv")).rename(columns={"Income": income})
    raw.to_csv(project.data("01_raw/customers.csv"), index=False)
    output = project.run("--env=numeric", tracking=True)
    assert "not a valid name" not in output  # parameters named after the column: renamed
    assert output.count("K-Prototypes is skipped: the features have no categorical column") == 1
    assert "Created version '1' of model 'customer-segmentation'" in output
    assert "KedroMlflowPipelineMLError" not in output
    assert "register_new_resolver" not in output  # kedro-mlflow's notice to itself too
    assert not project.data(OUTPUTS_KPROTOTYPES).exists()
    assert not project.data("06_models/kprototypes_model.pkl").exists()
    segmenter = pickle.loads(project.latest("06_models/segmenter.pkl").read_bytes())
    assert segmenter.algorithm == "kmeans" and segmenter.spec.numeric == ("Age", income)
    report = project.data("08_reporting/segmentation_report.html").read_text()
    assert "kmeans (k = " in report and "K-Prototypes" not in report

    failed = project.run("--env=numeric", "--params=serving.model=kprototypes",
                         expect_success=False)  # fmt: skip
    assert failed.endswith(
        "ValueError: serving.model is 'kprototypes', which this run does not fit: "
        "clustering.models is ['kmeans', 'kprototypes']; K-Prototypes is skipped: the features "
        "have no categorical column. Serve one of kmeans."
    )
    # --params changes one key of a group, also in an environment with its own parameters;
    # the failing node's own error is the last line of a tracked run.
    failed = project.run("--env=numeric", "--params=kmeans.k=1", expect_success=False,
                         tracking=True)  # fmt: skip
    assert failed.endswith("ValueError: k must be at least 2 or 'auto', got 1")


def test_environments_never_mix_their_outputs_or_models(project):
    """Two environments trained one after the other: each writes under its own data_dir and
    serves and scores its own model."""
    numeric = project.root / "conf" / "numeric"
    numeric.mkdir()
    (numeric / "globals.yml").write_text("data_dir: data/numeric\n")
    (numeric / "parameters.yml").write_text(
        "features:\n  numeric: [Age, Income]\n  ordinal: []\n  binary: []\n  nominal: []\n"
    )
    project.run()
    project.run("--env=numeric")
    default_model = project.latest("06_models/segmenter.pkl")
    numeric_model = project.latest("numeric/06_models/segmenter.pkl")
    assert pickle.loads(numeric_model.read_bytes()).spec.categorical == ()
    assert pickle.loads(default_model.read_bytes()).spec.categorical != ()
    for env, categorical in ((None, True), ("numeric", False)):
        with TestClient(create_app(project.root, env=env)) as client:
            facts = client.get("/model").json()
            assert bool(facts["features"]["categorical"]) == categorical, env
    project.run("--env=numeric", "--pipelines=inference")
    assert project.data("numeric/07_model_output/scored_customers.parquet").exists()
    assert not project.data("07_model_output/scored_customers.parquet").exists()
