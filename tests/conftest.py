"""Shared fixtures: the project's own configuration and small generated tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader

from customer_segmentation.data_generator import generate_customers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
REFERENCE_CSV = SHARED_DATA / "segmentation_data.csv"


@pytest.fixture(scope="session")
def parameters() -> dict[str, Any]:
    """The project's parameters, read from conf/ as `kedro run` reads them."""
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="local")
    return loader["parameters"]


@pytest.fixture(scope="session")
def raw_schema(parameters) -> dict[str, Any]:
    return parameters["raw_schema"]


@pytest.fixture
def raw_customers() -> pd.DataFrame:
    """300 valid generated customers, as `customers_raw` would load them."""
    return generate_customers(300, seed=7)


@pytest.fixture(scope="session")
def reference_customers() -> pd.DataFrame:
    """The public reference data set, when ../shared/data holds it."""
    if not REFERENCE_CSV.exists():
        pytest.skip(f"reference data absent: {REFERENCE_CSV} (see ../shared/data/SOURCES.md)")
    return pd.read_csv(REFERENCE_CSV)


@pytest.fixture(scope="session", autouse=True)
def users_mlflow_store_is_untouched():
    """Tests track into temporary projects, never into the project's own mlflow.db."""
    store = PROJECT_ROOT / "mlflow.db"

    def stamp():
        return store.stat().st_mtime_ns if store.exists() else None

    before = stamp()
    yield
    assert stamp() == before, f"a test wrote into {store}"
