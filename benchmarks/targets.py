"""The speed targets in one table, each measured against its reference in the same run.

- scoring start-up: ``kedro run --pipelines=inference`` on a 10-row file, against ``kedro run``
  of a two-node pipeline (CSV in, Parquet out) in a minimal project without plugins: a
  virtualenv of its own with the project's versions of Kedro, kedro-datasets, pandas, NumPy
  and pyarrow, and no plugin (installed once per run, by uv); target at most 1.5 s more.
  Below it, the project's own command (``python -m customer_segmentation``, which loads no
  plugin's commands) and the two-node run in the project's environment, where the plugins
  are installed: what they cost any ``kedro run`` there.
- batch scoring: the same commands on 1,000,000 customers, against a bare script
  (``pandas.read_csv``, ``Segmenter.predict``, ``to_parquet``); target at most 1.2x. Below
  them, the two-node runs on the same file (without plugins: the floor of any ``kedro run``)
  against the same bare script.
- training: the default ``kedro run`` on 1,000,000 customers, tracking off; target at most
  120 s and 2 GB peak resident memory.
- K-Prototypes: one fit of 20,000 rows (k = 4, n_init = 10) on every core, against the
  ``kmodes`` package in one process; target at least 200x faster at the same cost.
- API start-up: ``uvicorn`` launch to the first 200 on ``/ready`` and resident memory then,
  against a FastAPI app with only ``/health``; target at most 5 s and 300 MB.

Times are medians of ``--repeats`` interleaved runs (training and K-Prototypes run once).

Usage: python benchmarks/targets.py [--repeats 3] [--rows 1000000] [--skip-kmodes]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from kprototypes import fit, mixed_data
from project_copy import ROOT, project_copy

UV = ROOT / ".tools" / "bin" / "uv"  # make install's
PLAIN_PACKAGES = ("kedro", "kedro-datasets", "pandas", "numpy", "pyarrow")  # and no plugin

TWO_NODE_PROJECT = {
    "pyproject.toml": """
        [project]
        name = "two_nodes"
        version = "0.1.0"
        [tool.kedro]
        package_name = "two_nodes"
        project_name = "two_nodes"
        kedro_init_version = "1.7.0"
        source_dir = "src"
        """,
    "src/two_nodes/__init__.py": "",
    "src/two_nodes/settings.py": """
        from importlib.metadata import entry_points
        DISABLE_HOOKS_FOR_PLUGINS = tuple(
            {point.dist.name for point in entry_points(group="kedro.hooks")})
        """,
    "src/two_nodes/pipeline_registry.py": """
        from kedro.pipeline import Node, Pipeline

        def keep_valid(customers):
            return customers.dropna()

        def count(customers):
            return customers.assign(rows=len(customers))

        def register_pipelines():
            pipeline = Pipeline([Node(keep_valid, "customers", "valid"),
                                 Node(count, "valid", "counted")])
            return {"__default__": pipeline}
        """,
    "conf/base/catalog.yml": """
        customers:
          type: pandas.CSVDataset
          filepath: data/customers.csv
        counted:
          type: pandas.ParquetDataset
          filepath: data/counted.parquet
        """,
    "conf/base/parameters.yml": "{}",
    "conf/local/.gitkeep": "",
}
BARE_SCRIPT = """
import pickle, sys
import pandas as pd
with open(sys.argv[1], "rb") as file:
    segmenter = pickle.load(file)
segmenter.predict(pd.read_csv(sys.argv[2])).to_parquet(sys.argv[3])
"""
HEALTH_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/health")
async def health():
    return {"status": "ok"}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-kmodes", action="store_true", help="leave out kmodes (minutes)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        project = _trained_copy(Path(folder))
        data = project / "data" / "01_raw"
        small, large = data / "ten.csv", data / "large.csv"
        _generate(project, 10, small)
        _generate(project, args.rows, large)
        plain = _plain_python(Path(folder) / "plain")
        reference = _two_node_project(Path(folder) / "two_nodes", small)
        score = [sys.executable, "-m", "kedro", "run", "--pipelines=inference", "--params"]
        own = [sys.executable, "-m", "customer_segmentation", "--pipelines=inference", "--params"]
        two_nodes = [sys.executable, "-m", "kedro", "run"]
        plain_two_nodes = [plain, *two_nodes[1:]]
        ours, theirs, own_command, kedro = _interleaved(
            args.repeats, (project, [*score, f"raw_data_path={small}"]),
            (reference, plain_two_nodes), (project, [*own, f"raw_data_path={small}"]),
            (reference, two_nodes))  # fmt: skip
        rows.append(("scoring start-up, 10 rows", f"{ours:.2f} s", f"{theirs:.2f} s",
                     f"{ours - theirs:+.2f} s", "<= +1.5 s", ours - theirs <= 1.5))  # fmt: skip
        rows.append(("  python -m customer_segmentation", f"{own_command:.2f} s",
                     f"{theirs:.2f} s", f"{own_command - theirs:+.2f} s", "<= +1.5 s",
                     own_command - theirs <= 1.5))  # fmt: skip
        rows.append(("  two-node kedro run, plugins installed", f"{kedro:.2f} s",
                     f"{theirs:.2f} s", f"{kedro - theirs:+.2f} s", "-", None))  # fmt: skip
        segmenter = sorted((project / "data" / "06_models" / "segmenter.pkl").glob("*/*.pkl"))[-1]
        bare = [sys.executable, "-c", BARE_SCRIPT, str(segmenter), str(large), "bare.parquet"]
        floor = _two_node_project(Path(folder) / "two_nodes_large", large)
        ours, theirs, own_command, kedro, plain_kedro = _interleaved(
            args.repeats, (project, [*score, f"raw_data_path={large}"]), (project, bare),
            (project, [*own, f"raw_data_path={large}"]), (floor, two_nodes),
            (floor, plain_two_nodes))  # fmt: skip
        rows.append((f"batch scoring, {args.rows:,} rows", f"{ours:.2f} s", f"{theirs:.2f} s",
                     f"{ours / theirs:.2f}x", "<= 1.2x", ours / theirs <= 1.2))  # fmt: skip
        rows.append(("  python -m customer_segmentation", f"{own_command:.2f} s",
                     f"{theirs:.2f} s", f"{own_command / theirs:.2f}x", "<= 1.2x",
                     own_command / theirs <= 1.2))  # fmt: skip
        rows.append(("  floor: two-node kedro run, no plugins", f"{plain_kedro:.2f} s",
                     f"{theirs:.2f} s", f"{plain_kedro / theirs:.2f}x", "-", None))  # fmt: skip
        rows.append(("  two-node kedro run, plugins installed", f"{kedro:.2f} s",
                     f"{theirs:.2f} s", f"{kedro / theirs:.2f}x", "-", None))  # fmt: skip
        seconds, peak = _timed(project, [sys.executable, "-m", "kedro", "run", "--params",
                                         f"raw_data_path={large}"])  # fmt: skip
        rows.append((f"training, {args.rows:,} rows", f"{seconds:.0f} s, {peak / 2**30:.2f} GB",
                     "-", "-", "<= 120 s, 2 GB", seconds <= 120 and peak <= 2 * 2**30))  # fmt: skip
        rows.append(_kprototypes(args.skip_kmodes))
        rows.append(_api(project, Path(folder)))
    _print(rows)


def _trained_copy(folder: Path) -> Path:
    project = project_copy(folder)
    shutil.copy(ROOT / "data" / "01_raw" / "customers.csv", project / "data" / "01_raw")
    print("training in a temporary copy of the project ...", flush=True)
    _timed(project, [sys.executable, "-m", "kedro", "run"])
    return project


def _generate(project: Path, rows: int, path: Path) -> None:
    _timed(project, [sys.executable, "-m", "customer_segmentation.data_generator",
                     "--rows", str(rows), "--seed", "1", "--output", str(path)])  # fmt: skip


def _plain_python(folder: Path) -> str:
    """The Python of a new virtualenv with this environment's versions of ``PLAIN_PACKAGES``
    and what they need, and no Kedro plugin; bytecode compiled, as ``make install`` does."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in PLAIN_PACKAGES]
    print(f"a virtualenv without plugins: {' '.join(pins)} ...", flush=True)
    python = folder / "bin" / "python"
    for command in ([str(UV), "venv", "-q", "-p", sys.executable, str(folder)],
                    [str(UV), "pip", "install", "-q", "--compile-bytecode", "--python",
                     str(python), *pins]):  # fmt: skip
        subprocess.run(command, check=True)
    return str(python)


def _two_node_project(folder: Path, customers: Path) -> Path:
    for name, text in TWO_NODE_PROJECT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    (folder / "data").mkdir()
    shutil.copy(customers, folder / "data" / "customers.csv")
    # the project's logging, as `KEDRO_LOGGING_CONFIG=conf/logging.yml` (make bench) names it
    shutil.copy(ROOT / "conf" / "logging.yml", folder / "conf" / "logging.yml")
    return folder


def _interleaved(repeats: int, *commands: tuple[Path, list[str]]) -> list[float]:
    """Median seconds of each command, run in turn ``repeats`` times."""
    seconds: list[list[float]] = [[] for _ in commands]
    for _ in range(repeats):
        for times, (folder, command) in zip(seconds, commands, strict=True):
            times.append(_timed(folder, command)[0])
    return [statistics.median(times) for times in seconds]


def _timed(folder: Path, command: list[str]) -> tuple[float, int]:
    """Seconds and peak resident bytes of ``command`` run in ``folder``; exits if it fails."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        pid = subprocess.Popen(command, cwd=folder, env=_env(folder), stdout=log, stderr=log).pid
        _, status, usage = os.wait4(pid, 0)
        if status:
            log.seek(0)
            sys.exit(f"{' '.join(command)} failed:\n{log.read().decode()[-3000:]}")
    return time.perf_counter() - started, usage.ru_maxrss * 1024


def _env(folder: Path) -> dict[str, str]:
    return {
        **os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
        "CUSTOMER_SEGMENTATION_TRACKING": "off", "CUSTOMER_SEGMENTATION_PROJECT": str(folder),
        "PYTHONPATH": str(folder / "src"),  # the copy's package, as `kedro run` imports it
    }  # fmt: skip


def _kprototypes(skip_kmodes: bool) -> tuple:
    numeric, categorical = mixed_data(20_000)
    fit("fast", numeric[:100], categorical[:100], 2, 1)  # numba's compilation, once
    ours, our_cost = fit("fast", numeric, categorical, 4, 10, n_jobs=-1)
    if skip_kmodes:
        return ("K-Prototypes, 20,000 rows", f"{ours:.2f} s", "skipped", "-", ">= 200x", None)
    theirs, their_cost = fit("kmodes", numeric, categorical, 4, 10)
    speed_up, cost = theirs / ours, our_cost / their_cost
    return ("K-Prototypes, 20,000 rows", f"{ours:.2f} s", f"{theirs:.0f} s",
            f"{speed_up:.0f}x, cost {cost:.3f}", ">= 200x, cost <= 1",
            speed_up >= 200 and cost <= 1.0001)  # fmt: skip


def _api(project: Path, folder: Path) -> tuple:
    (folder / "health_app.py").write_text(HEALTH_APP)
    ours = _launch(project, ["customer_segmentation.api:create_app", "--factory"], "/ready")
    theirs = _launch(folder, ["health_app:app"], "/health")
    return ("API launch to ready", f"{ours[0]:.2f} s, {ours[1] / 2**20:.0f} MB",
            f"{theirs[0]:.2f} s, {theirs[1] / 2**20:.0f} MB", f"{ours[0] - theirs[0]:+.2f} s",
            "<= 5 s, 300 MB", ours[0] <= 5 and ours[1] <= 300 * 2**20)  # fmt: skip


def _launch(folder: Path, app: list[str], ready: str) -> tuple[float, int]:
    """Seconds from launching uvicorn to the first 200 on ``ready``; resident bytes then."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder, env=_env(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{ready}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 120:
                    sys.exit(f"uvicorn {' '.join(app)} did not become ready")
                time.sleep(0.02)
        seconds = time.perf_counter() - started
        status = Path(f"/proc/{server.pid}/status").read_text()
        resident = int(next(line for line in status.splitlines() if line.startswith("VmRSS"))
                       .split()[1]) * 1024  # fmt: skip
        return seconds, resident
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _print(rows: list[tuple]) -> None:
    header = ("", "ours", "reference", "ratio", "target", "holds")
    widths = [max(len(str(cells[i])) for cells in [header, *rows]) for i in range(5)]
    for cells in [header, *rows]:
        verdict = cells[5] if cells is header else {True: "yes", False: "NO", None: "-"}[cells[5]]
        print("  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=False)),
              verdict)  # fmt: skip


if __name__ == "__main__":
    main()
