"""A copy of the project (conf, src, pyproject) to run benchmarks in, without touching it."""

from __future__ import annotations

import compileall
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
    # Bytecode, as `make install` compiles src: where PYTHONDONTWRITEBYTECODE is set, every
    # run in the copy would compile the package from source again.
    compileall.compile_dir(project / "src", quiet=1)
    (project / "conf" / "local").mkdir()
    (project / "conf" / "local" / "parameters.yml").write_text("segment_on: customers\n")
    shutil.copy(ROOT / "pyproject.toml", project)
    (project / "data" / "01_raw").mkdir(parents=True)
    return project
