"""The reporting nodes: the served outputs, the plots and the HTML report."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from customer_segmentation.features import FeatureSpec, FittedFeatures
from customer_segmentation.pipelines.reporting.nodes import served_outputs
from customer_segmentation.pipelines.reporting.plots import (
    plot_elbow,
    plot_feature_heatmap,
    plot_k_scores,
    plot_model_agreement,
    plot_pca,
    plot_segment_sizes,
    plot_silhouettes,
)
from customer_segmentation.pipelines.reporting.report import build_report, statistic

NAMES = {"0": "Older · higher income", "1": "Younger"}
SPEC = FeatureSpec.from_params(
    {"columns": {"a": {"kind": "numeric", "label": "Spend per year", "unit": "EUR"},
                 "x": {"kind": "binary", "codes": {0: "no", 1: "yes"}, "label": "Has the app"}}},
    {"numeric": ["a"], "binary": ["x"]},
)  # fmt: skip

PLOTTED = FittedFeatures(FeatureSpec.from_params(
    {"id_column": "ID", "columns": {
        "ID": {"kind": "identifier", "dtype": "int"}, "a": {"kind": "numeric", "label": "Spend"},
        "b": {"kind": "numeric"}, "c": {"kind": "numeric"}}},
    {"numeric": ["a", "b", "c"]},
), np.zeros(3), np.ones(3))  # fmt: skip


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    features = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(4, 1, (40, 3))])
    model_input = pd.DataFrame(features, columns=["a", "b", "c"]).assign(ID=range(100))
    model = KMeans(2, n_init=2, random_state=0).fit(features)
    segments = pd.DataFrame({"ID": range(100), "segment": model.labels_})
    k_selection = pd.DataFrame({
        "k": [2, 3], "inertia": [10.0, 8.0], "silhouette": [0.6, 0.4],
        "calinski_harabasz": [90.0, 70.0], "davies_bouldin": [0.5, 0.7],
    })  # fmt: skip
    profiles = pd.DataFrame({
        "segment": [0, 1, -1], "size": [60, 40, 100], "share": [0.6, 0.4, 1.0],
        "a mean": [0.0, 4.0, 1.6], "a median": [0.0, 4.0, 1.0], "a std": [1, 1, 2],
        "x: yes": [0.2, 0.9, 0.48],
    })  # fmt: skip
    pca = PCA(2).fit(features)
    return model_input[["ID", "a", "b", "c"]], model, segments, k_selection, profiles, pca


def test_each_plot_draws_its_data(fitted):
    model_input, model, segments, k_selection, profiles, pca = fitted
    elbow = plot_elbow(k_selection, model)
    assert list(elbow.data[0].y) == [10.0, 8.0] and "chosen k = 2" in elbow.layout.title.text
    assert len(plot_k_scores(k_selection, model).data) == 3
    silhouettes = plot_silhouettes(model_input, model, "ID", NAMES)
    assert sum(len(trace.y) for trace in silhouettes.data) == 100
    pca_plot = plot_pca(model_input, segments, pca, PLOTTED, NAMES)
    assert sum(len(trace.x) for trace in pca_plot.data) == 100
    assert len(pca_plot.layout.annotations) == 3  # one loading arrow per feature
    assert [arrow.text for arrow in pca_plot.layout.annotations] == ["Spend", "b", "c"]
    heatmap = plot_feature_heatmap(model_input, segments, PLOTTED, NAMES)
    assert np.asarray(heatmap.data[0].z).shape == (2, 3)
    assert list(heatmap.data[0].x) == ["Spend", "b", "c"]  # labels, as in names
    sizes = plot_segment_sizes(profiles, NAMES)
    assert list(sizes.data[0].y) == [60, 40] and list(sizes.data[0].x) == list(NAMES.values())
    agreement = plot_model_agreement(segments, segments, "ID")
    assert "adjusted Rand index 1.000" in agreement.layout.title.text


def test_report_is_one_offline_page(fitted):
    model_input, model, segments, k_selection, profiles, pca = fitted
    summary = {"raw_data_path": "raw.csv", "rows_raw": 103, "rows_primary": 100,
               "rows_rejected": 3, "violations": {"missing_value": {"a": 2, "x": 1}}}  # fmt: skip
    figures = [plot_elbow(k_selection, model), plot_segment_sizes(profiles, NAMES)]
    page = build_report(
        profiles, NAMES, summary, k_selection, SimpleNamespace(algorithm="kmeans", k=2,
                                                               spec=SPEC),
        {"kprototypes": {"profiles": profiles.assign(size=[99, 1, 100]),
                         "names": {"0": "Mostly everyone", "1": "One alone"}}},
        {"min_segment_share": 0.5}, "abc123", *figures,
    )  # fmt: skip
    assert page.startswith("<!DOCTYPE html>") and "Older · higher income" in page
    assert "kmeans (k = 2)" in page and "All customers" in page
    chosen = k_selection.set_index("k").loc[2]
    assert f"<th>Davies–Bouldin</th><td>{chosen['davies_bouldin']:,.3f}</td>" in page
    assert "60 customers (60%)" in page and "abc123" in page
    assert page.count("under min_segment_share (50%)") == 2  # the 40% segment, and One alone
    assert "Also fitted, not served: K-Prototypes (k = 2)" in page and "1 customer (" in page
    assert "<tr><td>missing_value</td><td>a</td><td>2</td></tr>" in page
    assert "<th>Spend per year mean (EUR)</th>" in page and "<th>Has the app: yes</th>" in page
    assert "<td>1.60</td>" in page  # means by their size: three significant figures
    assert not re.search(r"<script[^>]+src=", page)  # no CDN: plotly.js is inlined
    assert page.count('class="plotly-graph-div"') == 2
    assert page.count("plotly.js v") == 1  # the library once


def test_the_served_outputs_follow_the_segmenter():
    kmeans, kprototypes = pd.DataFrame({"a": [1]}), pd.DataFrame({"b": [2]})
    profiles, kprototypes_profiles = pd.DataFrame({"c": [3]}), pd.DataFrame({"d": [4]})
    for algorithm, expected in (("kmeans", kmeans), ("kprototypes", kprototypes)):
        served = SimpleNamespace(algorithm=algorithm, names={0: "A"})
        outputs = served_outputs(
            served, kmeans_segments=kmeans, kprototypes_segments=kprototypes,
            kmeans_profiles=profiles, kprototypes_profiles=kprototypes_profiles,
            kmeans_k_selection=profiles, kprototypes_k_selection=kprototypes_profiles,
            kmeans_names={0: "K"}, kprototypes_names={0: "P"},
        )  # fmt: skip
        other = "kprototypes" if algorithm == "kmeans" else "kmeans"
        expected_names = {"kmeans": {0: "K"}, "kprototypes": {0: "P"}}[other]
        assert list(outputs[4]) == [other] and outputs[4][other]["names"] == expected_names
        assert outputs[0] is expected and outputs[2] == {0: "A"}
        assert outputs[1] is outputs[3] is (
            profiles if algorithm == "kmeans" else kprototypes_profiles
        )


@pytest.mark.parametrize(
    ("value", "integer", "shown"),
    [(1978.3, False, "1978"), (1978.0, True, "1978"), (52345.6, False, "52,346"),
     (37.26, False, "37.3"), (0.354, False, "0.35"), (-2.5, False, "-2.50"), (41.0, True, "41")],
)  # fmt: skip
def test_report_numbers_read_as_people_write_them(value, integer, shown):
    assert statistic(value, integer) == shown
