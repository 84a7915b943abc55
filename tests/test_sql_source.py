"""A SQL database as the raw source: a real PostgreSQL server, a table and a query.

The server is Debian's `postgresql` (installed by `make test` where apt-get may run), started
on 127.0.0.1 for this module and stopped after it; skipped with a reason where absent.
"""

from __future__ import annotations

import json

import pytest

from customer_segmentation.data_generator import generate_customers

from .kedro_project import copy_project
from .servers import running_postgres

pytestmark = pytest.mark.slow
TABLE = """customers_raw:
  type: pandas.SQLTableDataset
  table_name: customers
  credentials: customers_db
  metadata:
    kedro-viz:
      layer: raw
"""
QUERY = """customers_raw:
  type: pandas.SQLQueryDataset
  sql: SELECT * FROM customers WHERE "Income" > 150000 ORDER BY "ID"
  credentials: customers_db
"""


@pytest.fixture(scope="module")
def database() -> str:
    """A PostgreSQL server with a `customers` table of 600 customers, one of them bad."""
    import sqlalchemy

    with running_postgres() as url:
        customers = generate_customers(600, seed=21)
        customers["Age"] = customers["Age"].astype("float64")
        customers.loc[5, "Age"] = None  # NULL: quarantined as an empty cell of a file is
        engine = sqlalchemy.create_engine(url)
        customers.to_sql("customers", engine, index=False)
        engine.dispose()
        yield url


def test_a_sql_table_trains_and_a_sql_query_is_scored(database, tmp_path, monkeypatch):
    """The table in conf/local with its credentials (never committed); the query in an
    environment whose credentials come from an environment variable."""
    project = copy_project(tmp_path, segment_on="customers")
    local, query = project.root / "conf" / "local", project.root / "conf" / "sql_query"
    query.mkdir()
    (local / "catalog.yml").write_text(TABLE)
    (local / "credentials.yml").write_text(f"customers_db:\n  con: {database}\n")
    (query / "catalog.yml").write_text(QUERY)
    (query / "credentials.yml").write_text("customers_db:\n  con: ${oc.env:CUSTOMERS_DB}\n")
    for folder in (local, query):
        (folder / "globals.yml").write_text("raw_data_path: sql:customers\n")
    monkeypatch.setenv("CUSTOMERS_DB", database)

    project.run()
    primary, rejected = project.read_output("primary"), project.read_output("rejected")
    assert len(primary) == 599 and rejected["reason"].tolist() == ["Age: missing value"]
    summary = json.loads(project.data("08_reporting/data_quality_summary.json").read_text())
    assert summary["raw_data_path"] == "sql:customers" and summary["rows_raw"] == 600

    project.run("--env=sql_query", "--pipelines=inference")
    scored = project.read_output("scored")
    wealthy = primary[primary["Income"] > 150000].sort_values("ID")
    assert scored["ID"].tolist() == wealthy["ID"].tolist() and scored["segment"].notna().all()
    segments = project.read_output("segments").set_index("ID")["segment"]
    assert scored["segment"].tolist() == segments[wealthy["ID"]].tolist()
