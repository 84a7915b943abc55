"""A throwaway copy of the project, and `kedro run` in it as a user would type it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .conftest import PROJECT_ROOT

LAYERS = ("02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models",
          "07_model_output", "08_reporting")  # fmt: skip
OUTPUTS = {
    "primary": "03_primary/customers_primary.parquet",
    "rejected": "02_intermediate/customers_rejected.csv",
    "segments": "07_model_output/customer_segments.parquet",
    "scored": "07_model_output/scored_customers.parquet",
    "model_input": "05_model_input/model_input.parquet",
}
# `kedro run --env=spark` on the embedded table is a JVM of a minute: the client compiler
# alone and one GC thread take a third less CPU there (docs/spark.md).
SHORT_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@dataclass
class Project:
    """A copy of the project (conf, src, pyproject, embedded raw data) in a git repository.

    Its MLflow store is its own ``mlflow.db``: tests never touch the user's.
    """

    root: Path

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def env(self, tracking: bool | str = False) -> dict[str, str]:
        """Environment of a command run in the project (tracking off unless asked for;
        a text is ``CUSTOMER_SEGMENTATION_TRACKING`` itself)."""
        return {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "KEDRO_DISABLE_TELEMETRY": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "CUSTOMER_SEGMENTATION_TRACKING": {True: "on", False: "off"}.get(tracking, tracking),
            "COLUMNS": "400",
            "KEDRO_LOGGING_CONFIG": str(self.root / "conf" / "logging.yml"),
            "JAVA_TOOL_OPTIONS": SHORT_JVM_OPTIONS,
        }

    def run(self, *args: str, expect_success: bool = True, tracking: bool | str = False) -> str:
        """`kedro run ARGS`; returns its output with whitespace runs folded to one space."""
        result = subprocess.run(
            [sys.executable, "-m", "kedro", "run", *args], cwd=self.root,
            env=self.env(tracking), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        output = " ".join((result.stdout + result.stderr).split())
        assert (result.returncode == 0) == expect_success, output[-3000:]
        return output

    def python(self, code: str) -> str:
        """Run ``code`` in a fresh Python process in the project; returns its stdout."""
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=self.root, env=self.env(),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def data(self, relative: str) -> Path:
        return self.root / "data" / relative

    def latest(self, relative: str) -> Path:
        """The newest version of a versioned dataset."""
        versions = sorted(self.data(relative).iterdir())
        return versions[-1] / Path(relative).name

    def written_outputs(self, layer: str) -> list[Path]:
        return [p for p in self.data(layer).rglob("*") if p.is_file() and p.name != ".gitkeep"]

    def read_output(self, name: str) -> pd.DataFrame:
        path = self.data(OUTPUTS[name])
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def copy_project(destination: Path, segment_on: str | None = None) -> Project:
    """Copy the project to ``destination`` and commit it to a new git repository there.

    ``segment_on`` replaces what its runs segment on in ``conf/base``, for every env.
    """
    shutil.copytree(
        PROJECT_ROOT / "conf",
        destination / "conf",
        ignore=lambda folder, names: names if folder.endswith("local") else [],
    )
    shutil.copytree(
        PROJECT_ROOT / "src",
        destination / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    if segment_on:
        settings = destination / "conf" / "base" / "parameters_behaviour.yml"
        text = settings.read_text()
        assert "\nsegment_on: both\n" in text
        settings.write_text(text.replace("\nsegment_on: both\n", f"\nsegment_on: {segment_on}\n"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", destination)
    shutil.copy(PROJECT_ROOT / ".gitignore", destination)
    for layer in ("01_raw", *LAYERS):
        (destination / "data" / layer).mkdir(parents=True)
    for raw in ("customers.csv", "transactions.csv"):
        shutil.copy(PROJECT_ROOT / "data" / "01_raw" / raw, destination / "data" / "01_raw")
    git = ["git", "-c", "user.name=tests", "-c", "user.email=tests@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "copy of the project"]):
        subprocess.run([*git, *command], cwd=destination, check=True, capture_output=True)
    return Project(destination)  # fmt: skip


def shop_customers(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """The table of ``tests/fixtures/conf_byo``: text IDs, a nominal and a text-coded ordinal
    column, a binary one, and four missing values (rows 5, 77, 123 and 300)."""
    rng = np.random.default_rng(seed)
    tier = rng.choice(["bronze", "silver", "gold"], rows, p=[0.6, 0.3, 0.1])
    table = pd.DataFrame({
        "customer_id": [f"C-{i:05d}" for i in range(rows)],
        "age_years": rng.integers(18, 80, rows),
        "yearly_spend": np.round(rng.gamma(2, 300, rows) * (1 + (tier == "gold") * 3), 2),
        "region": rng.choice(["north", "south", "east", "west"], rows),
        "loyalty_tier": tier,
        "has_app": rng.integers(0, 2, rows),
    }).astype({"age_years": "float64", "region": "object"})  # fmt: skip
    table.loc[[5, 77, 300], "age_years"] = np.nan
    table.loc[123, "region"] = None
    return table
