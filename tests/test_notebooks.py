"""The notebooks run against a trained copy of the project, as `make notebook` opens them."""

from __future__ import annotations

import shutil
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .conftest import PROJECT_ROOT
from .kedro_project import copy_project
from .servers import running_server

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
API_URL = "CUSTOMER_SEGMENTATION_API_URL"


def test_there_are_the_four_notebooks():
    assert [path.stem for path in NOTEBOOKS] == ["01_eda", "02_kmeans", "03_kprototypes", "04_api"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trained copy of the project with the notebooks, and the API serving it."""
    project = copy_project(tmp_path_factory.mktemp("notebooks"))
    shutil.copytree(PROJECT_ROOT / "notebooks", project.root / "notebooks")
    project.run()
    command = [sys.executable, "-m", "uvicorn", "customer_segmentation.api:create_app",
               "--factory", "--port", "{port}"]  # fmt: skip
    with (
        running_server(command, project.root, project.env(), "/ready") as url,
        pytest.MonkeyPatch.context() as environment,
    ):
        for name, value in {**project.env(), API_URL: url}.items():
            environment.setenv(name, value)  # the kernel inherits them
        yield project


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_executes(path, trained):
    notebook = nbformat.read(trained.root / "notebooks" / path.name, as_version=4)
    folder = {"metadata": {"path": str(trained.root / "notebooks")}}  # the kernel's cwd
    client = NotebookClient(notebook, kernel_name="python3", timeout=300, resources=folder)
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{path.name}: {error.ename}: {error.evalue}\n{error}")
    # kedro-mlflow's store stays in the project root when Kedro starts in notebooks/
    assert not (trained.root / "notebooks" / "mlflow.db").exists()
