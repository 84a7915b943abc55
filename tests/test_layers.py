"""The layering rule of PRODUCT.md §3, enforced: who may import whom inside the package.

- A pipeline imports only its own modules and the domain layer, never another pipeline.
- The domain layer (the modules at the package root) imports no pipeline and not the API.
- The API imports no pipeline (it serves the ``segmenter`` the pipelines wrote).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "customer_segmentation"
ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE
PIPELINES = sorted(p.name for p in (ROOT / "pipelines").iterdir() if (p / "pipeline.py").exists())
# Root modules that wire Kedro itself may reach the pipelines; nothing else at the root may.
KEDRO_WIRING = {"pipeline_registry", "settings", "__main__"}


def _imports(path: Path, source: str | None = None) -> list[str]:
    """Absolute names of the package's modules that ``path`` (or ``source`` at it) imports."""
    package = ".".join((PACKAGE, *path.relative_to(ROOT).parent.parts))
    names = []
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names += [module] if node.module else [f"{module}.{a.name}" for a in node.names]
    return [name for name in names if name.split(".")[0] == PACKAGE]


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers(path):
    parts = path.relative_to(ROOT).parts
    imported = _imports(path)
    pipelines = [n for n in imported if n.startswith(f"{PACKAGE}.pipelines.")]
    if parts[0] == "pipelines" and len(parts) > 2:
        own = f"{PACKAGE}.pipelines.{parts[1]}"
        foreign = [n for n in pipelines if not (n == own or n.startswith(own + "."))]
        foreign = [n for n in foreign if n != f"{PACKAGE}.pipelines.ID_COLUMN"]  # shared constant
        assert not foreign, f"{path.name} in pipeline {parts[1]} imports {foreign}"
        assert not [n for n in imported if n.startswith(f"{PACKAGE}.api")]
    elif parts[0] == "api":
        assert not pipelines, f"the API imports pipelines: {pipelines}"
        assert f"{PACKAGE}.pipeline_registry" not in imported
    elif len(parts) == 1 and path.stem not in KEDRO_WIRING:
        assert not pipelines and not [n for n in imported if n.startswith(f"{PACKAGE}.api")], (
            f"domain module {path.name} imports {imported}"
        )


def test_the_rule_sees_relative_imports_for_what_they_are():
    assert set(PIPELINES) >= {"data_processing", "feature_engineering", "clustering",
                              "reporting", "inference"}  # fmt: skip
    path = ROOT / "pipelines" / "reporting" / "nodes.py"
    source = "from ..inference.nodes import combine\nfrom .plots import plot\nfrom .. import X\n"
    assert _imports(path, source) == [
        f"{PACKAGE}.pipelines.inference.nodes",
        f"{PACKAGE}.pipelines.reporting.plots",
        f"{PACKAGE}.pipelines.X",
    ]
