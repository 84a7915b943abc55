"""Plot nodes: plotly figures for kedro-viz previews, MLflow and the HTML report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_samples

from customer_segmentation.features import FittedFeatures
from customer_segmentation.segments import segment_name

SAMPLE_SIZE = 5000  # points drawn in scatter and silhouette plots


def plot_elbow(k_selection: pd.DataFrame, kmeans_model: KMeans) -> go.Figure:
    """Inertia against k, the chosen k marked."""
    chosen = kmeans_model.n_clusters
    figure = px.line(k_selection, x="k", y="inertia", markers=True,
                     title=f"Elbow: K-Means inertia by k (chosen k = {chosen})")  # fmt: skip
    figure.add_vline(x=chosen, line_dash="dash", annotation_text=f"k = {chosen}")
    return figure


def plot_k_scores(k_selection: pd.DataFrame, kmeans_model: KMeans) -> go.Figure:
    """Silhouette (higher is better), Calinski–Harabasz (higher) and Davies–Bouldin (lower)."""
    scores = {"silhouette": "Silhouette ↑", "calinski_harabasz": "Calinski–Harabasz ↑",
              "davies_bouldin": "Davies–Bouldin ↓"}  # fmt: skip
    figure = make_subplots(rows=1, cols=3, subplot_titles=list(scores.values()))
    for column, (score, _) in enumerate(scores.items(), start=1):
        figure.add_trace(go.Scatter(x=k_selection["k"], y=k_selection[score], mode="lines+markers",
                                    name=score), row=1, col=column)  # fmt: skip
        figure.add_vline(x=kmeans_model.n_clusters, line_dash="dash", row=1, col=column)
    figure.update_layout(title="K-Means quality by k", showlegend=False)
    return figure


def plot_silhouettes(
    model_input: pd.DataFrame, kmeans_model: KMeans, id_column: str, segment_names: dict
) -> go.Figure:
    """Per-customer silhouette for the chosen k, sorted within each segment (a sample)."""
    sample = _sample(model_input)
    features = sample.drop(columns=id_column).to_numpy()
    labels = kmeans_model.predict(features)
    values = silhouette_samples(features, labels)
    frame = pd.DataFrame({"segment": labels, "silhouette": values})
    frame = frame.sort_values(["segment", "silhouette"]).reset_index(drop=True)
    frame["segment name"] = [segment_name(s, segment_names) for s in frame["segment"]]
    figure = px.bar(frame, x=frame.index, y="silhouette", color="segment name",
                    title=f"Silhouette of each customer (mean {values.mean():.3f})")  # fmt: skip
    figure.update_traces(marker_line_width=0)
    figure.update_layout(bargap=0, xaxis_title="customers, by segment")
    return figure


def plot_pca(
    model_input: pd.DataFrame, served_segments: pd.DataFrame, pca: PCA,
    preprocessor: FittedFeatures, segment_names: dict,
) -> go.Figure:  # fmt: skip
    """Customers on the first two principal components, coloured by segment, with loadings
    named by the features' titles."""
    id_column, titles = preprocessor.spec.id_column, preprocessor.spec.output_titles
    sample = _sample(model_input.merge(served_segments, on=id_column))
    features = sample.drop(columns=[id_column, "segment"])
    plane = pca.transform(features.to_numpy())
    explained = pca.explained_variance_ratio_
    figure = px.scatter(
        x=plane[:, 0], y=plane[:, 1], opacity=0.6,
        color=[segment_name(s, segment_names) for s in sample["segment"]],
        labels={"x": f"PC1 ({explained[0]:.0%})", "y": f"PC2 ({explained[1]:.0%})",
                "color": "segment"},
        title=f"Segments on the PCA plane ({explained.sum():.0%} of the variance)",
    )  # fmt: skip
    scale = np.abs(plane).max() / np.abs(pca.components_).max() * 0.8
    for name, (x, y) in zip(features.columns, pca.components_.T, strict=True):
        figure.add_annotation(x=x * scale, y=y * scale, ax=0, ay=0, axref="x", ayref="y",
                              text=titles.get(name, name), showarrow=True,
                              arrowhead=2)  # fmt: skip
    return figure


def plot_feature_heatmap(
    model_input: pd.DataFrame, served_segments: pd.DataFrame, preprocessor: FittedFeatures,
    segment_names: dict,
) -> go.Figure:  # fmt: skip
    """Mean of each standardised feature (by its title) by segment: how far from the average
    customer."""
    id_column, titles = preprocessor.spec.id_column, preprocessor.spec.output_titles
    merged = model_input.merge(served_segments, on=id_column)
    features = merged.drop(columns=[id_column, "segment"])
    standardised = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    means = standardised.groupby(merged["segment"]).mean()
    figure = px.imshow(
        means.to_numpy(), x=[titles.get(name, name) for name in means.columns],
        y=[segment_name(s, segment_names) for s in means.index],
        color_continuous_scale="RdBu_r", zmin=-2, zmax=2, text_auto=".2f", aspect="auto",
        title="Standardised feature means by segment",
    )  # fmt: skip
    return figure


def plot_segment_sizes(segment_profiles: pd.DataFrame, segment_names: dict) -> go.Figure:
    """Customers per segment."""
    rows = segment_profiles[segment_profiles["segment"] >= 0]
    figure = px.bar(
        x=[segment_name(s, segment_names) for s in rows["segment"]], y=rows["size"],
        text=[f"{share:.0%}" for share in rows["share"]],
        labels={"x": "segment", "y": "customers"}, title="Segment sizes",
    )  # fmt: skip
    return figure


def plot_model_agreement(
    customer_segments: pd.DataFrame, kprototypes_segments: pd.DataFrame, id_column: str
) -> go.Figure:
    """K-Means against K-Prototypes: customers per pair of segments, and their ARI."""
    merged = customer_segments.merge(kprototypes_segments, on=id_column,
                                     suffixes=(" K-Means", " K-Prototypes"))  # fmt: skip
    table = pd.crosstab(merged["segment K-Means"], merged["segment K-Prototypes"])
    agreement = adjusted_rand_score(merged["segment K-Means"], merged["segment K-Prototypes"])
    figure = px.imshow(
        table.to_numpy(), x=[str(c) for c in table.columns], y=[str(i) for i in table.index],
        text_auto=True, color_continuous_scale="Blues", aspect="auto",
        labels={"x": "K-Prototypes segment", "y": "K-Means segment", "color": "customers"},
        title=f"K-Means vs K-Prototypes (adjusted Rand index {agreement:.3f})",
    )  # fmt: skip
    return figure


def plot_rfm_crosstab(segment_rfm_crosstab: pd.DataFrame) -> go.Figure:
    """Customers per served segment and RFM group, as a heat map with the counts."""
    table = segment_rfm_crosstab.set_index("segment")
    return px.imshow(
        table.to_numpy(), x=list(table.columns), y=list(table.index), text_auto=True,
        color_continuous_scale="Blues", aspect="auto",
        labels={"x": "RFM group", "y": "segment", "color": "customers"},
        title="Segments against RFM groups",
    )  # fmt: skip


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    return frame if len(frame) <= SAMPLE_SIZE else frame.sample(SAMPLE_SIZE, random_state=0)
