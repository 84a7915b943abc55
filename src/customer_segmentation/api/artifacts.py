"""What the service serves: the catalog's outputs of the last `kedro run`, loaded once."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from customer_segmentation.pipeline_registry import REGISTERED_MODEL_NAME
from customer_segmentation.pipelines.feature_engineering.nodes import categorical_features
from customer_segmentation.pipelines.inference.nodes import segment_name

from .scoring import Scorer, build_scorer

logger = logging.getLogger(__name__)
SEGMENTS_DATASET = {"kmeans": "customer_segments", "kprototypes": "kprototypes_segments"}


@dataclass(frozen=True)
class Served:
    """Everything a request needs, loaded at start-up.

    Attributes:
        scorer: The served model's arithmetic.
        names: Segment id to segment name.
        segments: Per segment: id, name, size and share of the training customers.
        facts: What ``GET /model`` answers.
        pca_mean: Mean of the model features, for the PCA projection.
        pca_components: The two PCA axes, ``(2, n_features)``.
        pca_explained: Share of variance on each axis.
    """

    scorer: Scorer
    names: dict[int, str]
    segments: list[dict[str, Any]]
    facts: dict[str, Any]
    pca_mean: np.ndarray
    pca_components: np.ndarray
    pca_explained: list[float]


def load_served(project_path: Path, env: str | None = None) -> Served:
    """Load the served model and its companions from the project's catalog.

    Args:
        project_path: Root of the Kedro project whose outputs are served.
        env: Kedro configuration environment (default: ``local``).

    Returns:
        The loaded artifacts.
    """
    project_path = Path(project_path).resolve()
    bootstrap_project(project_path)
    with contextlib.chdir(project_path), KedroSession.create(project_path, env=env) as session:
        context = session.load_context()
        catalog, params = context.catalog, context.params
        algorithm = params["serving"]["model"]
        model_dataset = f"{algorithm}_model"
        model = catalog.load(model_dataset)
        scorer = build_scorer(
            catalog.load("preprocessor"), model, params["features"], params["raw_schema"]
        )
        segment_ids = catalog.load(SEGMENTS_DATASET[algorithm])["segment"].to_numpy()
        pca = catalog.load("pca")
        segment_names = catalog.load("segment_names")
        version = catalog.get(model_dataset).resolve_load_version()
        mlflow_config = getattr(context, "mlflow", None)  # absent without kedro-mlflow
        tracking_uri = mlflow_config.server.mlflow_tracking_uri if mlflow_config else None
    names = {k: segment_name(k, segment_names) for k in range(len(scorer.centres))}
    sizes = np.bincount(segment_ids, minlength=len(names))
    facts = {
        "algorithm": algorithm,
        "k": len(names),
        "features": {
            "numeric": list(params["features"].get("numeric") or []),
            "categorical": categorical_features(params["features"]),
        },
        "trained_at": version,
        "dataset_version": version,
        "training_rows": int(sizes.sum()),
        **_registry_facts(tracking_uri, version),
    }
    logger.info(
        "Serving %s (k=%d, version %s) from %s", algorithm, len(names), version, project_path
    )
    return Served(
        scorer=scorer,
        names=names,
        segments=[
            {
                "segment": k,
                "segment_name": name,
                "size": int(sizes[k]),
                "share": float(sizes[k] / sizes.sum()),
            }
            for k, name in names.items()
        ],  # fmt: skip
        facts=facts,
        pca_mean=pca.mean_,
        pca_components=pca.components_,
        pca_explained=[float(share) for share in pca.explained_variance_ratio_],
    )


def _registry_facts(tracking_uri: str | None, version: str) -> dict[str, Any]:
    """The MLflow run that trained this model version, and its registered model version."""
    facts: dict[str, Any] = {
        "mlflow_run_id": None,
        "registered_model": None,
        "registered_version": None,
    }
    if not tracking_uri:
        return facts
    try:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri)
        runs = client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            filter_string=f"tags.run_id = '{version}'", max_results=1,
        )  # fmt: skip
        if runs:
            facts["mlflow_run_id"] = runs[0].info.run_id
            versions = client.search_model_versions(f"run_id = '{runs[0].info.run_id}'")
            if versions:
                facts["registered_model"] = REGISTERED_MODEL_NAME
                facts["registered_version"] = int(versions[0].version)
    except Exception as error:  # tracking is optional: the service runs without it
        logger.warning("No MLflow facts for model version %s: %s", version, error)
    return facts
