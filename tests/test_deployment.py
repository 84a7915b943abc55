"""The container files, checked without a Docker engine (`make docker-test` runs them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from customer_segmentation import settings

from .conftest import PROJECT_ROOT

TOOLS = Path(sys.executable).parent
HOST_NETWORK = PROJECT_ROOT / "tests" / "docker" / "compose.host-network.yml"
CONTAINER_ROOT = "/app"


def _compose_config(*overrides: Path) -> dict:
    files = [f"--file={path}" for path in (PROJECT_ROOT / "docker-compose.yml", *overrides)]
    result = subprocess.run(
        [TOOLS / "docker-compose", *files, "config", "--format", "json"], cwd=PROJECT_ROOT,
        env={"API_PORT": "18000", "MLFLOW_PORT": "15000"}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def test_dockerfile_passes_hadolint():
    result = subprocess.run([TOOLS / "hadolint", "Dockerfile"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_trains_then_serves_on_shared_volumes():
    services = _compose_config()
    assert set(services) == {"train", "api", "mlflow"}
    for name in ("api", "mlflow"):
        condition = services[name]["depends_on"]["train"]["condition"]
        assert condition == "service_completed_successfully"
    for service in services.values():
        mounts = {(m["source"], m["target"]) for m in service["volumes"]}
        assert mounts == {("data", "/app/data"), ("tracking", "/app/tracking")}
    assert services["train"]["command"] == ["kedro", "run"]
    published = [port for name in ("api", "mlflow") for port in services[name]["ports"]]
    assert [port["host_ip"] for port in published] == ["127.0.0.1", "127.0.0.1"]


def test_mlflow_ui_reads_the_store_the_pipeline_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ${project_root:} is then tmp_path, as it is /app in the image
    conf = str(PROJECT_ROOT / "conf")
    loader = OmegaConfigLoader(conf, env="docker", **settings.CONFIG_LOADER_ARGS)
    loader.config_patterns["mlflow"] = ["mlflow*"]
    uri = loader["mlflow"]["server"]["mlflow_tracking_uri"]
    store = uri.replace(tmp_path.as_posix(), CONTAINER_ROOT)
    command = _compose_config()["mlflow"]["command"]
    assert command[command.index("--backend-store-uri") + 1] == store
    assert store.startswith(f"sqlite:///{CONTAINER_ROOT}/tracking/")


@pytest.mark.parametrize("service", ["train", "api", "mlflow"])
def test_host_network_override_binds_loopback_only(service):
    config = _compose_config(HOST_NETWORK)[service]
    assert config["network_mode"] == "host" and not config.get("ports")
    if service == "api":
        assert config["environment"]["UVICORN_HOST"] == "127.0.0.1"
    if service == "mlflow":
        assert config["command"][config["command"].index("--host") + 1] == "127.0.0.1"
