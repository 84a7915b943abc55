"""Shared fixtures: the project's own configuration and small generated tables."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.config_loader import ProjectConfigLoader
from customer_segmentation.data_generator import generate_customers
from customer_segmentation.features import FeatureSpec

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
PUBLIC_DATA = SHARED_DATA / "public"
REFERENCE_CSV = SHARED_DATA / "segmentation_data.csv"


@functools.cache
def project_parameters(env: str | None = None, segment_on: str | None = "customers"
                       ) -> dict[str, Any]:  # fmt: skip
    """The project's parameters, read from conf/ as `kedro run --env=ENV` reads them.

    Unit tests of the customer table read them as `--params=segment_on=customers` does;
    ``segment_on=None`` reads what the environment sets.
    """
    loader = ProjectConfigLoader(
        str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="local", env=env,
        runtime_params={"segment_on": segment_on} if segment_on else None,
    )  # fmt: skip
    return loader["parameters"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of end-to-end (``slow``) tests first, the rest in collection order.

    ``--dist loadfile`` hands the workers whole files in this order (with
    ``--no-loadscope-reorder``; xdist would otherwise put the files with the most tests
    first, which leaves the long runs of few tests to the end): the short files then fill
    both workers at the end instead of one worker finishing a long file alone.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(scope="session")
def parameters() -> dict[str, Any]:
    return project_parameters()


@pytest.fixture(scope="session")
def raw_schema(parameters) -> dict[str, Any]:
    return parameters["raw_schema"]


@pytest.fixture(scope="session")
def features(parameters) -> dict[str, Any]:
    return parameters["features"]


@pytest.fixture(scope="session")
def spec(raw_schema, features) -> FeatureSpec:
    """The project's feature specification."""
    return FeatureSpec.from_params(raw_schema, features)


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


def fit_segmenter(
    customers: pd.DataFrame, spec: FeatureSpec, algorithm: str = "kmeans", k: int = 3
):
    """A segmenter trained in memory on ``customers`` as the pipelines train one."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    from customer_segmentation.features import fit_features
    from customer_segmentation.kprototypes import KPrototypes
    from customer_segmentation.segmenter import build_segmenter
    from customer_segmentation.validation import split_rows

    valid = split_rows(customers, spec, "customers").valid
    features = fit_features(valid, spec)
    inputs = features.transform(*features.arrays(valid))
    if algorithm == "kmeans":
        model = KMeans(k, n_init=2, random_state=0).fit(inputs)
    else:
        mixed = features.mixed_frame(valid).drop(columns=spec.id_column)
        categorical = list(range(len(spec.numeric), mixed.shape[1]))
        model = KPrototypes(k, categorical=categorical, n_init=2, random_state=0)
        model.fit(mixed.to_numpy(dtype=float))
    names = {segment: f"Group {segment}" for segment in range(k)}
    sizes = np.bincount(model.labels_, minlength=k)
    return build_segmenter(features, model, algorithm, names, sizes, PCA(2).fit(inputs))


@pytest.fixture(scope="session", params=["kmeans", "kprototypes"])
def segmenter(request, spec):
    """A K-Means and a K-Prototypes segmenter of 400 generated customers."""
    return fit_segmenter(generate_customers(400, seed=3), spec, request.param)


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the Spark unit tests of a test process (~9 s to start)."""
    from customer_segmentation.spark import start_session

    session = start_session({
        "spark.master": "local[2]", "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4", "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    })  # fmt: skip
    yield session
    session.stop()
