"""Run the project as ``python -m customer_segmentation`` or ``customer-segmentation``: the
options of ``kedro run``, e.g. ``customer-segmentation --pipelines=inference``.

Kedro's own ``run`` command, called directly. ``kedro run`` (and the starters' ``__main__``,
through ``find_run_command``) first loads every plugin's CLI commands, and kedro-mlflow's
import MLflow: 1–2 s of every batch scoring run here, for commands the run never uses.
No installed plugin replaces ``run``, so the run is the same.
"""

import sys
from pathlib import Path
from typing import Any

from kedro.framework.cli.project import run
from kedro.framework.project import configure_project


def main(*args, **kwargs) -> Any:
    """Configure the project and call Kedro's ``run`` command."""
    configure_project(Path(__file__).parent.name)
    kwargs["standalone_mode"] = not hasattr(sys, "ps1")
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
