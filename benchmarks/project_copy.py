"""A copy of the project (conf, src, pyproject) to run benchmarks in, without touching it."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_copy(folder: Path) -> Path:
    """Copy the project into ``folder/project`` with an empty ``data/01_raw``, segmenting the
    customer table alone (``segment_on: customers`` in its ``conf/local``): the targets are
    stated for the customer table; ``behaviour.py`` and ``spark_scale.py`` measure the log."""
    project = folder / "project"
    for part in ("conf", "src"):
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "local")
        shutil.copytree(ROOT / part, project / part, ignore=ignore)
    (project / "conf" / "local").mkdir()
    (project / "conf" / "local" / "parameters.yml").write_text("segment_on: customers\n")
    shutil.copy(ROOT / "pyproject.toml", project)
    (project / "data" / "01_raw").mkdir(parents=True)
    return project
