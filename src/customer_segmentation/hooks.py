"""Project hooks: one run at a time, versions served only after success, traceable runs.

- ``RunLockHook``: runs in one project are serialised by a lock file; a second run says it
  is waiting. The operating system releases the lock of a killed run.
- ``RunCompletionHook``: when a run has succeeded, the versions it wrote of
  ``CompletedRunPickleDataset`` datasets (the ``segmenter``) become the ones served.
- ``TrackingTagsHook``: tags each MLflow run with the git commit, a hash of the raw data and
  the process that runs it; marks FAILED the runs left RUNNING by killed processes; keeps
  kedro-mlflow's renaming of parameter names MLflow refuses quiet.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)
LOCK_FILE = ".kedro-run.lock"
PROCESS_TAGS = ("run_host", "run_pid")


class RunLockHook:
    """Serialise the runs in one project: a second run waits for the first, and says so."""

    def __init__(self) -> None:
        self._lock: Any = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Take the project's run lock, waiting (with a log line) while another run holds it."""
        import fcntl

        path = Path(run_params["project_path"]) / LOCK_FILE
        self._lock = path.open("a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            holder = self._lock.read().strip() or "another process"
            logger.warning("Another kedro run (%s) is running in this project; waiting for it "
                           "to finish (lock %s)", holder, path)  # fmt: skip
            started = time.monotonic()
            fcntl.flock(self._lock, fcntl.LOCK_EX)
            logger.info("The other run finished; waited %.0f s", time.monotonic() - started)
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"pid {os.getpid()} on {socket.gethostname()}")
        self._lock.flush()

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        """Release the lock."""
        self._release()

    @hook_impl(trylast=True)
    def on_pipeline_error(self) -> None:
        """Release the lock."""
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None


class RunCompletionHook:
    """When a run succeeds, the versions it wrote of ``CompletedRunPickleDataset`` count."""

    @hook_impl(trylast=True)  # after kedro-mlflow has logged the model without an error
    def after_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        """Complete every such dataset the pipeline wrote."""
        from customer_segmentation.datasets import CompletedRunPickleDataset

        for name in sorted(pipeline.all_outputs()):
            dataset = catalog.get(name) if name in catalog else None  # saved, so materialised
            if isinstance(dataset, CompletedRunPickleDataset):
                dataset.complete()


class TrackingTagsHook:
    """Tag the active MLflow run with the git commit and a hash of the raw data.

    The run id is also put in the catalog as ``mlflow_run_id``, for the report to quote.

    kedro-mlflow starts the run in its own ``before_pipeline_run``; these hooks run after it
    (``trylast``) and do nothing when tracking is off, i.e. when no run is active.
    """

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Silence kedro-mlflow's notice for each parameter name it renames for MLflow."""
        hook_logger = logging.getLogger("kedro_mlflow.framework.hooks.mlflow_hook")
        if not any(isinstance(f, RenamedParameterNotice) for f in hook_logger.filters):
            hook_logger.addFilter(RenamedParameterNotice())

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: Any) -> None:
        """Tag the run with the git commit; give the pipeline the run id as ``mlflow_run_id``."""
        run = mlflow.active_run()
        if run:
            mlflow.set_tags(git_tags(Path(run_params["project_path"])))
            fail_runs_of_dead_processes(run)
            mlflow.set_tags(dict(zip(PROCESS_TAGS, (socket.gethostname(), os.getpid()),
                                     strict=True)))  # fmt: skip
        catalog["mlflow_run_id"] = run.info.run_id if run else "not tracked"

    @hook_impl(trylast=True)
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        """Tag the run with the content hash and row count of the raw customers it read."""
        if dataset_name == "data_quality_summary" and mlflow.active_run():
            tags = {"raw_data_sha256": data["raw_data_sha256"], "raw_rows": data["rows_raw"]}
            mlflow.set_tags(tags)


class RenamedParameterNotice(logging.Filter):
    """Drops kedro-mlflow's warning for each parameter name MLflow refuses.

    kedro-mlflow already logs such a parameter under a valid name (``Annual Income (k$)``
    becomes ``Annual Income _k__``), but warns once per parameter and node: 18 warnings a
    run for one such column, which bury the lines that matter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "is not a valid name for a mlflow param" not in record.getMessage()


def fail_runs_of_dead_processes(active: Any) -> None:
    """Mark FAILED the runs of this experiment left RUNNING by a process that no longer lives.

    Only runs tagged by this hook with this host and a process id that is gone: a killed
    ``kedro run`` cannot end its own MLflow run.
    """
    client = mlflow.MlflowClient()
    host_tag, pid_tag = PROCESS_TAGS
    running = client.search_runs(
        [active.info.experiment_id], filter_string="attributes.status = 'RUNNING'"
    )
    for run in running:
        host, pid = run.data.tags.get(host_tag), run.data.tags.get(pid_tag)
        if run.info.run_id == active.info.run_id or host != socket.gethostname() or not pid:
            continue
        if not _process_alive(int(pid)):
            client.set_terminated(run.info.run_id, status="FAILED")
            logger.warning("MLflow run %s was left RUNNING by process %s, which is gone: "
                           "marked FAILED", run.info.run_id, pid)  # fmt: skip


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


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
