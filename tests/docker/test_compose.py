"""`make docker-test`: the image built, the compose stack run, a customer scored, torn down.

Needs a Docker engine (``DOCKER_HOST``); `make test` deselects it. The override
``compose.host-network.yml`` runs every container on the host's network bound to 127.0.0.1,
for engines without bridge networking, such as the one CI starts.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from ..conftest import PROJECT_ROOT
from ..servers import free_port

pytestmark = pytest.mark.docker
logger = logging.getLogger(__name__)
COMPOSE_FILES = (
    PROJECT_ROOT / "docker-compose.yml",
    Path(__file__).with_name("compose.host-network.yml"),
)
IMAGE = "customer-segmentation:latest"
APP_UID = "10001"


@dataclass
class Stack:
    """The running compose project."""

    command: list[str]
    env: dict[str, str]
    api: httpx.Client
    api_url: str
    mlflow_url: str

    def compose(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run([*self.command, *args], env=self.env, capture_output=True,
                                text=True, timeout=timeout)  # fmt: skip
        assert result.returncode == 0, f"compose {' '.join(args)}:\n{result.stderr[-4000:]}"
        return result.stdout

    def wait_for(self, url: str, seconds: float = 300) -> None:
        """Until ``url`` answers 200."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        logs = self.compose("logs")
        raise AssertionError(f"{url} did not answer 200 within {seconds} s:\n{logs[-6000:]}")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    api_port, mlflow_port = free_port(), free_port()
    env = {**os.environ, "API_PORT": str(api_port), "MLFLOW_PORT": str(mlflow_port)}
    command = [str(Path(sys.executable).with_name("docker-compose")), "--project-name",
               f"cs-test-{os.getpid()}", *(f"--file={path}" for path in COMPOSE_FILES)]  # fmt: skip
    api_url, mlflow_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{mlflow_port}"
    with httpx.Client(base_url=api_url, timeout=30) as api:
        stack = Stack(command, env, api, api_url, mlflow_url)
        if subprocess.run([*command, "ps"], env=env, capture_output=True).returncode:
            pytest.fail(f"no Docker engine answers at DOCKER_HOST={os.environ.get('DOCKER_HOST')}")
        try:
            started = time.monotonic()
            stack.compose("build", "train", timeout=3600)
            built = time.monotonic()
            stack.compose("up", "--detach", timeout=1200)  # returns once train has succeeded
            trained = time.monotonic()
            stack.wait_for(f"{api_url}/ready")
            ready = time.monotonic()
            stack.wait_for(f"{stack.mlflow_url}/health")
            size = json.loads(stack.compose("images", "--format", "json", "api"))[0]["Size"]
            memory = stack.compose("exec", "-T", "api", "grep", "VmRSS", "/proc/1/status")
            logger.info(
                "image %s: %.2f GB; build %.0f s, training %.0f s, api /ready %.1f s later; "
                "api %s", IMAGE, size / 1e9, built - started, trained - built, ready - trained,
                " ".join(memory.split()),
            )  # fmt: skip
            yield stack
        finally:
            try:
                logger.info("compose logs (tail):\n%s", stack.compose("logs", "--tail=20")[-6000:])
            finally:
                stack.compose("down", "--volumes", "--remove-orphans")


def _raw_customers(rows: int) -> pd.DataFrame:
    return pd.read_csv(PROJECT_ROOT / "data" / "01_raw" / "customers.csv", nrows=rows)


def _container_output(stack, relative: str) -> pd.DataFrame:
    """A Parquet output of the containers' training run."""
    return pd.read_json(io.StringIO(stack.compose(
        "exec", "-T", "api", "python", "-c",
        f"import pandas as pd; print(pd.read_parquet('data/{relative}').to_json(orient='records'))",
    )))  # fmt: skip


def test_prediction_equals_the_containers_training_run(stack):
    behaviour = _container_output(stack, "04_feature/customer_behaviour.parquet")
    customers = _raw_customers(50).merge(behaviour, on="ID")  # with their behaviour values
    response = stack.api.post("/predict", json={"customers": customers.to_dict(orient="records")})
    assert response.status_code == 200, response.text
    predicted = pd.DataFrame(response.json()["predictions"])
    trained = _container_output(stack, "07_model_output/customer_segments.parquet")
    expected = predicted[["ID"]].merge(trained, on="ID", how="left")["segment"]
    assert predicted["ID"].tolist() == customers["ID"].tolist()
    assert predicted["segment"].tolist() == expected.tolist()
    names = {s["segment"]: s["segment_name"] for s in stack.api.get("/segments").json()["segments"]}
    assert (predicted["segment_name"] == predicted["segment"].map(names)).all()


def test_bad_input_is_422_with_its_field(stack):
    customer = _raw_customers(1).to_dict(orient="records")[0] | {"Age": 130}
    response = stack.api.post("/predict", json={"customers": [customer]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "Age"


def test_the_api_runs_unprivileged_and_is_healthy(stack):
    assert stack.compose("exec", "-T", "api", "id", "-u").strip() == APP_UID
    deadline = time.monotonic() + 90
    while (health := _health(stack, "api")) != "healthy" and time.monotonic() < deadline:
        time.sleep(2)
    assert health == "healthy"


def test_mlflow_ui_shows_the_containers_training_run(stack):
    assert httpx.get(f"{stack.mlflow_url}/health", timeout=10).status_code == 200
    model = httpx.get(f"{stack.mlflow_url}/api/2.0/mlflow/registered-models/get",
                      params={"name": "customer-segmentation"}, timeout=10)  # fmt: skip
    assert model.status_code == 200, model.text
    served = stack.api.get("/model").json()
    latest = model.json()["registered_model"]["latest_versions"][0]
    assert (served["mlflow_run_id"], served["registered_version"]) == (latest["run_id"], 1)


def test_the_model_survives_a_restart(stack):
    before = stack.api.get("/model").json()
    stack.compose("restart", "api")
    stack.wait_for(f"{stack.api_url}/ready", seconds=120)
    assert stack.api.get("/model").json() == before


def _health(stack: Stack, service: str) -> str:
    lines = stack.compose("ps", "--format", "json", service).splitlines()
    return json.loads(lines[0]).get("Health", "") if lines else ""
