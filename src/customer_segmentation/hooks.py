"""Project hooks: one run at a time, versions served only after success, traceable runs.

- ``TrackedRunsHook``: kedro-mlflow's hook, for every command but a run (``kedro run``,
  ``customer-segmentation``) of untracked pipelines only (batch scoring by default), which
  then never imports MLflow.
- ``RunLockHook``: runs in one project are serialised by a lock file; a second run says it
  is waiting. The operating system releases the lock of a killed run.
- ``RunCompletionHook``: when a run has succeeded, the versions it wrote of
  ``CompletedRunPickleDataset`` datasets (the ``segmenter``) become the ones served.
- ``SparkSessionHook``: starts the SparkSession of ``conf/<env>/spark.yml`` where an
  environment has one (``kedro run --env=spark``), as Kedro's PySpark starters do.
- ``TrackingTagsHook``: tags each MLflow run with the git commit, a hash of the raw data and
  the process that runs it; marks FAILED the runs left RUNNING by killed processes; keeps
  kedro-mlflow's renaming of parameter names MLflow refuses quiet.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from kedro.framework.hooks import hook_impl

from customer_segmentation.pipeline_registry import DEFAULT_PIPELINES

logger = logging.getLogger(__name__)
LOCK_FILE = ".kedro-run.lock"
PROCESS_TAGS = ("run_host", "run_pid")
TRACKING_SWITCH = "CUSTOMER_SEGMENTATION_TRACKING"
ALL_PIPELINES = ("__default__", *DEFAULT_PIPELINES, "inference", "behaviour")


def untracked_pipelines() -> list[str]:
    """Pipelines kedro-mlflow leaves untracked, from ``CUSTOMER_SEGMENTATION_TRACKING``.

    ``on`` (the default): training is tracked, batch scoring (``inference``) is not; ``all``:
    batch scoring too; ``off``: nothing.
    """
    switch = os.environ.get(TRACKING_SWITCH, "on").lower()
    if switch == "all":
        return []
    return list(ALL_PIPELINES) if switch in ("off", "false", "0", "no") else ["inference"]


def untracked_run() -> bool:
    """Whether this session tracks nothing: a run (Kedro's ``run`` command, whatever it is
    called by) of untracked pipelines only, or a session started from Python (a notebook, a
    script) while tracking is off."""
    command = click.get_current_context(silent=True)
    if command is None:
        return set(ALL_PIPELINES) <= set(untracked_pipelines())
    if command.command.name != "run":  # kedro mlflow ui, kedro jupyter, ...: the plugin as usual
        return False
    names = command.params.get("pipelines") or [command.params.get("pipeline") or "__default__"]
    return set(names) <= set(untracked_pipelines())


class TrackedRunsHook:
    """kedro-mlflow's ``MlflowHook``, except in a ``kedro run`` that tracks nothing.

    Registered in ``settings.HOOKS`` under the name of kedro-mlflow's hook entry point
    (``mlflow_hook``), so that pluggy skips loading that entry point, whose module imports
    MLflow; ``DISABLE_HOOKS_FOR_PLUGINS`` also names the plugin. kedro-mlflow would otherwise
    import MLflow, open the tracking store and load every dataset class of the catalog at the
    start of each session: 5 s of a batch scoring run that logs nothing. Tracked runs,
    ``kedro mlflow ui`` and notebooks (while tracking is on) get the plugin's hook unchanged.
    """

    def __init__(self) -> None:
        self.__name__ = "mlflow_hook"  # pluggy's name for it: the plugin's entry point's
        self._hook: Any = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Create kedro-mlflow's hook and set MLflow up, unless the run tracks nothing."""
        self._hook = None
        if not untracked_run():
            from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

            self._hook = MlflowHook()
            self._hook.after_context_created(context)

    @hook_impl
    def after_catalog_created(  # noqa: PLR0913 (the hook's own arguments)
        self, catalog: Any, conf_catalog: Any, conf_creds: Any, parameters: Any,
        save_version: Any, load_versions: Any,
    ) -> None:  # fmt: skip
        """kedro-mlflow's ``after_catalog_created``."""
        if self._hook:
            self._hook.after_catalog_created(catalog, conf_catalog, conf_creds, parameters,
                                             save_version, load_versions)  # fmt: skip

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        """kedro-mlflow's ``before_pipeline_run``: starts the MLflow run."""
        if self._hook:
            self._hook.before_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any],
                        is_async: bool) -> None:  # fmt: skip
        """kedro-mlflow's ``before_node_run``: logs the node's parameters."""
        if self._hook:
            self._hook.before_node_run(node, catalog, inputs, is_async)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        """kedro-mlflow's ``after_pipeline_run``: logs the model, ends the MLflow run."""
        if self._hook:
            self._hook.after_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Any,
                          catalog: Any) -> None:  # fmt: skip
        """kedro-mlflow's ``on_pipeline_error``: ends the MLflow run as failed."""
        if self._hook:
            self._hook.on_pipeline_error(error, run_params, pipeline, catalog)


class SparkSessionHook:
    """Start the SparkSession an environment configures in ``spark.yml``; nothing elsewhere.

    The session is created once, when the context is, so every Spark dataset and node of
    the run shares it (``SparkSession.builder.getOrCreate``).
    """

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        from kedro.config import MissingConfigException

        try:
            config = context.config_loader["spark"]
        except (KeyError, MissingConfigException):
            return
        if not config:
            return
        from customer_segmentation.spark import start_session

        session = start_session(dict(config))
        logger.info("Spark %s session %r on %s", session.version,
                    session.sparkContext.appName, session.sparkContext.master)  # fmt: skip


def _active_run() -> Any:
    """MLflow's active run; None without importing MLflow when nothing has imported it."""
    mlflow = sys.modules.get("mlflow")
    return mlflow.active_run() if mlflow else None


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
        run = _active_run()
        if run:
            import mlflow

            mlflow.set_tags(git_tags(Path(run_params["project_path"])))
            fail_runs_of_dead_processes(run)
            mlflow.set_tags(dict(zip(PROCESS_TAGS, (socket.gethostname(), os.getpid()),
                                     strict=True)))  # fmt: skip
        catalog["mlflow_run_id"] = run.info.run_id if run else "not tracked"

    @hook_impl(trylast=True)
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        """Tag the run with the content hash and row count of the raw customers it read."""
        if dataset_name == "data_quality_summary" and _active_run():
            import mlflow

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
    import mlflow

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
