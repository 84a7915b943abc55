"""Project hooks: tags that make every tracked training run traceable to code and data."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


class TrackingTagsHook:
    """Tag the active MLflow run with the git commit and a hash of the raw data.

    The run id is also put in the catalog as ``mlflow_run_id``, for the report to quote.

    kedro-mlflow starts the run in its own ``before_pipeline_run``; these hooks run after it
    (``trylast``) and do nothing when tracking is off, i.e. when no run is active.
    """

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: Any) -> None:
        """Tag the run with the git commit; give the pipeline the run id as ``mlflow_run_id``."""
        run = mlflow.active_run()
        if run:
            mlflow.set_tags(git_tags(Path(run_params["project_path"])))
        catalog["mlflow_run_id"] = run.info.run_id if run else "not tracked"

    @hook_impl(trylast=True)
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        """Tag the run with a content hash of the raw customers it read."""
        if dataset_name == "customers_raw" and mlflow.active_run():
            mlflow.set_tags({"raw_data_sha256": content_hash(data), "raw_rows": len(data)})


def git_tags(project_path: Path) -> dict[str, str]:
    """The commit checked out in ``project_path`` and whether files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=project_path, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        return {
            "git_commit": git("rev-parse", "HEAD"),
            "git_dirty": str(bool(git("status", "--porcelain"))),
        }
    except (OSError, subprocess.CalledProcessError):
        logger.info("%s is not a git checkout: the run has no git_commit tag", project_path)
        return {}


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's column names and cell values, independent of how it was stored."""
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
