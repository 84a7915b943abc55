"""The self-contained HTML report: segments, their profiles, the plots and the model's facts."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from customer_segmentation.segmenter import Segmenter
from customer_segmentation.segments import segment_name

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.tiny { color: #b00020; }
.segment { display: inline-block; border-left: 4px solid #4c78a8; padding: 0.2rem 0.8rem;
           margin: 0.3rem 1rem 0.3rem 0; }
"""

ALGORITHM_NAMES = {"kmeans": "K-Means", "kprototypes": "K-Prototypes"}
SCORE_LABELS = {"calinski_harabasz": "Calinski–Harabasz", "davies_bouldin": "Davies–Bouldin",
                "silhouette_gower": "silhouette (Gower)"}  # fmt: skip


def build_report(
    segment_profiles: pd.DataFrame,
    segment_names: dict,
    data_quality_summary: dict[str, Any],
    k_selection: pd.DataFrame,
    segmenter: Segmenter,
    other_models: dict[str, dict[str, Any]],
    clustering: dict[str, Any],
    mlflow_run_id: str,
    *figures: go.Figure,
) -> str:
    """Write the report as one HTML page that opens offline (plotly.js is inlined once).

    Args:
        segment_profiles: The served model's profiles (``segments.profile_segments``).
        segment_names: Its segment id to name.
        data_quality_summary: Rows raw / primary / rejected and violations per rule.
        k_selection: The served model's k sweep (its scores at the chosen k are shown).
        segmenter: The served segmenter (its algorithm and k).
        other_models: Each other model fitted, by algorithm: its ``profiles`` and ``names``,
            shown after the served one.
        clustering: The ``clustering`` parameters: a segment under ``min_segment_share``
            (possible when k is fixed by hand) is flagged.
        mlflow_run_id: The MLflow run of this training, or "not tracked".
        *figures: The plots, in the order shown.

    Returns:
        The HTML page.
    """
    smallest = clustering.get("min_segment_share", 0.0)
    served = ALGORITHM_NAMES.get(segmenter.algorithm, segmenter.algorithm)
    titles = _row_titles(segmenter)
    whole = {name for name, column in segmenter.spec.schema.columns.items()
             if column.dtype == "int"}  # fmt: skip
    others = "".join(
        f"<h2>Also fitted, not served: {html.escape(ALGORITHM_NAMES.get(name, name))} "
        f"(k = {int((model['profiles']['segment'] >= 0).sum())})</h2>"
        f"{_cards(model['profiles'], model['names'], smallest)}"
        f"{_profile_table(model['profiles'], model['names'], titles, whole)}"
        for name, model in other_models.items()
    )  # fmt: skip
    chosen = k_selection.set_index("k").drop(columns="fit_seconds", errors="ignore")
    scores = chosen.loc[segmenter.k] if segmenter.k in chosen.index else pd.Series()
    facts = {
        "served algorithm": f"{segmenter.algorithm} (k = {segmenter.k})",
        **{SCORE_LABELS.get(name, name): f"{value:,.3f}" for name, value in scores.items()},
        "MLflow run": mlflow_run_id,
        "written": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    quality = {key: data_quality_summary[key] for key in
               ("raw_data_path", "rows_raw", "rows_primary", "rows_rejected")}  # fmt: skip
    violations = [
        (rule, column, count)
        for rule, columns in data_quality_summary["violations"].items()
        for column, count in columns.items()
    ]
    if not violations:
        quality["rule violations"] = "none"
    plots = "".join(
        figure.to_html(full_html=False, include_plotlyjs=(i == 0), default_height=480)
        for i, figure in enumerate(figures)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Customer segmentation report</title>
<style>{STYLE}</style></head><body>
<h1>Customer segmentation</h1>
<h2>Segments ({html.escape(served)}, served)</h2>
{_cards(segment_profiles, segment_names, smallest)}
<h2>Profiles</h2>{_profile_table(segment_profiles, segment_names, titles, whole)}
<h2>Model</h2>{_facts_table(facts)}
{others}
<h2>Data quality</h2>{_facts_table(quality)}{_violations_table(violations)}
<h2>Plots</h2>{plots}
</body></html>"""


def _cards(profiles: pd.DataFrame, names: dict, smallest: float) -> str:
    """A card per segment: its name, size and share, flagged under ``smallest``."""
    segments = profiles[profiles["segment"] >= 0]
    return "".join(
        f'<div class="segment"><b>{k}. {html.escape(segment_name(k, names))}</b><br>'
        f"{_customers(size)} ({share:.0%})"
        + (f'<br><b class="tiny">under min_segment_share ({smallest:.0%})</b>'
           if share < smallest else "")
        + "</div>"
        for k, size, share in segments[["segment", "size", "share"]].itertuples(index=False)
    )  # fmt: skip


def _violations_table(violations: list[tuple[str, str, int]]) -> str:
    """Rows rejected per rule and column (a row breaking several rules counts in each)."""
    if not violations:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(rule)}</td><td>{html.escape(str(column))}</td><td>{count:,}</td></tr>"
        for rule, column, count in violations
    )  # fmt: skip
    return f"<table><tr><th>rule</th><th>column</th><th>rows</th></tr>{rows}</table>"


def _customers(count: int) -> str:
    return "1 customer" if count == 1 else f"{count:,} customers"


def _row_titles(segmenter: Segmenter) -> dict[str, str]:
    """Profile rows as people read them: feature titles, with the unit of a mean or median."""
    spec, titles = segmenter.spec, {}
    for name in spec.numeric:
        column = spec.schema.columns.get(name)
        unit = f" ({column.unit})" if column is not None and column.unit else ""
        for statistic in ("mean", "median"):
            titles[f"{name} {statistic}"] = f"{spec.title(name)} {statistic}{unit}"
        for label in spec.sentinels(name).values():
            titles[f"{name}: {label}"] = f"{spec.title(name)}: {label}"
    for name in spec.categorical:
        for label in spec.schema.columns[name].codes.values():
            titles[f"{name}: {label}"] = f"{spec.title(name)}: {label}"
    return titles


def _profile_table(
    profiles: pd.DataFrame, names: dict, titles: dict[str, str], whole: set[str]
) -> str:
    """Segments side by side: shares as percentages, means and medians by ``statistic``;
    the medians of whole-number columns (``whole``) as whole numbers."""
    table = profiles.set_index("segment").drop(columns=[c for c in profiles if c.endswith(" std")])
    table.index = [segment_name(k, names) if k >= 0 else "All customers" for k in table.index]
    shown = table.T.astype(object)
    shown.loc["size"] = [f"{v:,.0f}" for v in table["size"]]
    shown.loc["share"] = [f"{v:.0%}" for v in table["share"]]
    for row in shown.index:
        if ": " in row:
            shown.loc[row] = [f"{v:.0%}" for v in table[row]]
        elif row.endswith((" mean", " median")):
            integer = row.endswith(" median") and row.removesuffix(" median") in whole
            shown.loc[row] = [statistic(v, integer) for v in table[row]]
    return shown.rename(index=titles).to_html(escape=True)


def statistic(value: float, integer: bool = False) -> str:
    """A mean or median as people read it: three significant figures or more, whole from
    1,000, thousands separated from 10,000 (a year is "1978"), whole for ``integer``."""
    size = abs(value)
    decimals = 0 if integer or size >= 1000 else 1 if size >= 10 else 2
    separator = "," if size >= 10_000 else ""
    return f"{value:{separator}.{decimals}f}"


def _facts_table(facts: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in facts.items()
    )
    return f"<table>{rows}</table>"
