"""What users see, in a real headless Chromium: the kedro-viz static site and the HTML report.

Needs Debian's chromium (``make test`` installs it where it can) and Playwright driving it,
with no browser download. Screenshots land in ``data/08_reporting/screenshots/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT_ROOT
from .kedro_project import Project, copy_project
from .servers import running_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "data" / "08_reporting" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} absent (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Project:
    """A trained project with its kedro-viz static site built (previews included)."""
    project = copy_project(tmp_path_factory.mktemp("viewed"))
    project.run()
    subprocess.run([sys.executable, "-m", "kedro", "viz", "build", "--include-previews"],
                   cwd=project.root, env=project.env(), check=True, capture_output=True,
                   timeout=300)  # fmt: skip
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return project


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def viz_site(built):
    """The static site on 127.0.0.1, served as a user would after `kedro viz build`."""
    command = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    with running_server(command, built.root / "build", os.environ.copy(), "/", seconds=30) as url:
        yield f"{url}/"


def test_kedro_viz_renders_every_pipeline(built, browser, viz_site):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(viz_site)
    page.wait_for_selector(".pipeline-node", timeout=60_000)
    hints = page.locator(".feature-hints__close")  # kedro-viz's tour of new features
    if hints.count():
        hints.first.click()
        page.wait_for_timeout(5_000)  # its closing toast fades
    page.screenshot(path=SCREENSHOTS / "kedro_viz.png")
    api = built.root / "build" / "api" / "pipelines"
    pipelines = ["behaviour", "data_processing", "feature_engineering", "clustering",
                 "reporting", "inference"]  # fmt: skip
    for pipeline in pipelines:
        dropdown = page.locator(".pipeline-list").first
        dropdown.click()
        dropdown.get_by_text(pipeline, exact=True).last.click()
        shown = _unfolded(json.loads((api / pipeline).read_text()))
        for kind in ("task", "data", "modularPipeline"):
            expected = sum(1 for node in shown if node["type"] == kind)
            page.wait_for_function(
                f"document.querySelectorAll('.pipeline-node--{kind}').length === {expected}",
                timeout=20_000,
            )
    assert errors == []


def _unfolded(pipeline: dict) -> list[dict]:
    """The nodes kedro-viz draws with namespaces folded: a namespace's tasks are one group,
    and a dataset written and read inside it, and by no task outside it, is hidden in it."""
    nodes, edges = pipeline["nodes"], [(e["source"], e["target"]) for e in pipeline["edges"]]
    tasks = {n["id"]: (n.get("modular_pipelines") or [None])[0] for n in nodes
             if n["type"] == "task"}  # fmt: skip

    def inside(node: dict) -> bool:
        if node["type"] == "task":
            return tasks[node["id"]] is not None
        writers = {source for source, target in edges if target == node["id"] and source in tasks}
        readers = {target for source, target in edges if source == node["id"] and target in tasks}
        groups = {tasks[task] for task in writers | readers}
        return bool(writers and readers) and len(groups) == 1 and None not in groups

    return [node for node in nodes if not inside(node)]


def test_report_renders_every_plot(built, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    report = built.data("08_reporting/segmentation_report.html")
    page.goto(report.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 8", timeout=60_000
    )
    assert page.locator(".js-plotly-plot").count() == 8  # with Segments against RFM groups
    names = [json.loads(built.data(f"07_model_output/{name}.json").read_text())
             for name in ("segment_names", "kprototypes_segment_names")]  # fmt: skip
    assert page.locator(".segment").count() == sum(map(len, names))  # a card per segment
    for name in names[0].values():  # the served model's, in the first section
        assert page.get_by_text(name).count() >= 1
    page.screenshot(path=SCREENSHOTS / "segmentation_report.png", full_page=True)
    assert errors == []
