"""docs/data-contract.md states the raw schema of conf/ exactly."""

from __future__ import annotations

from .conftest import PROJECT_ROOT


def _documented_columns() -> dict[str, list[str]]:
    text = (PROJECT_ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    section = text.split("## The customer table", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [cell.strip() for cell in cells[1:]] for cells in rows[1:]}


def _described(spec: dict) -> str:
    if "codes" in spec:
        return ", ".join(f"{code} = {label}" for code, label in spec["codes"].items())
    if "min" in spec:
        return f"{spec['min']} to {spec['max']} ({spec['unit']})"
    return "unique; never a feature"


def test_the_documented_columns_are_the_configured_ones(raw_schema):
    expected = {
        name: [spec["kind"], spec.get("dtype", "code"), _described(spec)]
        for name, spec in raw_schema["columns"].items()
    }
    assert _documented_columns() == expected
