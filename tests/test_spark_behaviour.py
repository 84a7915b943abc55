"""Behaviour on Spark: a transaction log checked, described and joined as the pandas path does.

Each test runs the behaviour pipeline's pandas nodes and their Spark twins on the same hostile
files and compares what they write: the rejected lines and their reasons, the summary, each
customer's features (to 1e-9), the RFM scores, and the joined table ``data_processing`` checks.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.behaviour import BehaviourSpec, add_behaviour
from customer_segmentation.data_generator import generate_customers, generate_transactions
from customer_segmentation.datasets import read_text_csv
from customer_segmentation.features import FeatureSpec
from customer_segmentation.pipelines.behaviour import nodes
from customer_segmentation.validation import ContentHash, split_rows

from .conftest import PROJECT_ROOT, project_parameters

pytestmark = pytest.mark.slow
pytest.importorskip("pyspark", reason="pyspark is installed by make install")
if shutil.which("java") is None:
    pytest.skip("no Java: Spark needs Java 17 (make test installs it where apt may run)",
                allow_module_level=True)  # fmt: skip

from customer_segmentation.pipelines.behaviour import spark_nodes  # noqa: E402 (after skips)
from customer_segmentation.spark import split_on_spark  # noqa: E402
from customer_segmentation.spark_behaviour import (  # noqa: E402
    add_behaviour_on_spark,
    log_customers_as_read,
)


def hostile_log(log: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``log`` (as text) with every line rule broken somewhere, repeats and strangers."""
    rng = np.random.default_rng(seed)
    log = log.astype("str").copy()
    rows = rng.choice(len(log), size=12 * 10, replace=False).reshape(-1, 12)
    for i, (r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12) in enumerate(rows):
        log.loc[r1, "timestamp"] = [None, "2024-13-45", "yesterday"][i % 3]
        log.loc[r2, "quantity"] = ["abc", "inf", "1_000", "NA", " "][i % 5]
        log.loc[r3, "unit_price"] = None
        log.loc[r4, "customer_id"] = ["x", "1.5", "99999999999999999999"][i % 3]
        log.loc[r5, "customer_id"] = str(900_000_000 + i)  # not in the customer table
        log.loc[r6] = log.loc[r7]  # an exact repeat of an earlier (or later) line
        log.loc[r8, "order_id"] = None
        log.loc[r9, "customer_id"] = log.loc[r9, "customer_id"] + ".0"  # the same customer
        log.loc[r10] = log.loc[r5]  # a stranger's line, repeated
        log.loc[r11, "category"] = ["toys", None, "Groceries"][i % 3]  # other
        log.loc[r12, "status"] = "Cancelled"
    return log


def both_engines(spark, customers: pd.DataFrame, log: pd.DataFrame, tmp_path,
                 lines_per_group: int):  # fmt: skip
    """The behaviour nodes of each engine on the same two files, and ``data_processing``'s
    split of the joined table: ``{engine: outputs}``."""
    parameters = project_parameters(segment_on="both")
    bspec = BehaviourSpec.from_params(parameters["transactions"], parameters["behaviour"],
                                      parameters["raw_schema"])  # fmt: skip
    spec = FeatureSpec.from_params(parameters["raw_schema"], parameters["features"])
    id_column = spec.id_column
    customers_path, log_path = tmp_path / "customers.csv", tmp_path / "transactions.csv"
    customers.to_csv(customers_path, index=False)
    log.to_csv(log_path, index=False)
    table = (parameters["raw_schema"], parameters["features"], str(customers_path), bspec)
    outputs = {}
    for engine, module, read in (
        ("pandas", nodes, lambda path: read_text_csv(path, {})),
        ("spark", spark_nodes,
         lambda path: spark.read.csv(str(path), header=True, inferSchema=False)),
    ):  # fmt: skip
        suffix = "_on_spark" if engine == "spark" else ""
        node = {name: getattr(module, name + suffix) for name in (
            "customer_identifiers", "validate_transactions", "compute_behaviour", "score_rfm",
            "join_customer_behaviour")}  # fmt: skip
        customers_raw = read(customers_path)
        ids = node["customer_identifiers"](customers_raw, *table)
        kept, rejected, summary = node["validate_transactions"](read(log_path), ids, bspec, 1.0)
        extra = [{"lines_per_group": lines_per_group}] if engine == "spark" else []
        behaviour = node["compute_behaviour"](kept, ids, bspec, None, *extra)
        rfm = node["score_rfm"](behaviour, id_column)
        joined = node["join_customer_behaviour"](customers_raw, behaviour, id_column, bspec)
        if engine == "spark":
            split = split_on_spark(joined, spec, str(customers_path))
            rejected, behaviour, rfm = (frame.toPandas() for frame in (rejected, behaviour, rfm))
            valid = split.valid.toPandas()
        else:
            joined = pd.concat(list(joined), ignore_index=True)
            split = split_rows(joined, spec, str(customers_path))
            content = ContentHash()  # as validate_customers hashes the table it checks
            content.update(joined)
            split.summary["raw_data_sha256"] = content.hexdigest()
            valid = split.valid
        outputs[engine] = {
            "rejected": rejected.sort_values("raw_row").reset_index(drop=True),
            "summary": summary, "quality": split.summary,
            "behaviour": behaviour.sort_values(id_column).reset_index(drop=True),
            "rfm": rfm.sort_values(id_column).reset_index(drop=True),
            "valid": valid.sort_values(id_column).reset_index(drop=True),
        }  # fmt: skip
    return outputs


def assert_alike(outputs) -> None:
    expected, found = outputs["pandas"], outputs["spark"]
    pd.testing.assert_frame_equal(found["rejected"][expected["rejected"].columns],
                                  expected["rejected"], check_dtype=False)  # fmt: skip
    assert found["summary"] == expected["summary"]
    assert expected["summary"]["lines_rejected"] >= 70
    assert set(expected["summary"]["violations"]) >= {
        "missing_value", "wrong_type", "repeated_line", "unknown_customer"}
    pd.testing.assert_frame_equal(found["behaviour"], expected["behaviour"], check_dtype=False,
                                  rtol=1e-9)  # fmt: skip
    pd.testing.assert_frame_equal(found["rfm"], expected["rfm"], check_dtype=False)
    assert found["quality"] == expected["quality"]
    pd.testing.assert_frame_equal(found["valid"], expected["valid"], check_dtype=False,
                                  rtol=1e-9)  # fmt: skip


def test_the_embedded_log_is_checked_and_described_alike(spark, tmp_path):
    customers = read_text_csv(PROJECT_ROOT / "data/01_raw/customers.csv", {})
    log = hostile_log(read_text_csv(PROJECT_ROOT / "data/01_raw/transactions.csv", {}), seed=0)
    # Groups of ~3,000 lines: the customers are described in ten groups or so, not one.
    assert_alike(both_engines(spark, customers, log, tmp_path, lines_per_group=3_000))


def test_a_generated_log_is_checked_and_described_alike(spark, tmp_path):
    customers = generate_customers(10_000, seed=5)
    log = hostile_log(generate_transactions(customers, seed=5).head(100_000), seed=1)
    outputs = both_engines(spark, customers, log, tmp_path, lines_per_group=25_000)
    assert_alike(outputs)
    assert outputs["spark"]["summary"]["lines_raw"] == 100_000


@pytest.mark.parametrize("segment_on", ["both", "behaviour"])
def test_customers_to_score_get_the_behaviour_pandas_gives_them(spark, tmp_path, segment_on):
    """Batch scoring's join (`add_behaviour`): the customers of a file (`both`) or of the
    log itself (`behaviour`), in their order, with the behaviour their lines show."""
    parameters = project_parameters(segment_on="both")
    bspec = BehaviourSpec.from_params(parameters["transactions"], parameters["behaviour"],
                                      parameters["raw_schema"])  # fmt: skip
    customers = read_text_csv(PROJECT_ROOT / "data/01_raw/customers.csv", {}).head(500)
    customers.loc[3, "ID"] = customers.loc[2, "ID"]
    customers.loc[5, "ID"] = "x"
    customers.loc[7, "ID"] = customers.loc[7, "ID"] + ".0"
    log = hostile_log(read_text_csv(PROJECT_ROOT / "data/01_raw/transactions.csv", {}), seed=2)
    customers_path, log_path = tmp_path / "customers.csv", tmp_path / "transactions.csv"
    customers.to_csv(customers_path, index=False)
    log.to_csv(log_path, index=False)
    lines = spark.read.csv(str(log_path), header=True, inferSchema=False)
    if segment_on == "both":
        to_score = read_text_csv(customers_path, {})
        on_spark = spark.read.csv(str(customers_path), header=True, inferSchema=False)
    else:  # as the scoring nodes take a log's customers
        raw_lines = read_text_csv(log_path, {})
        to_score = pd.DataFrame({"ID": raw_lines["customer_id"].dropna().unique()})
        on_spark = log_customers_as_read(lines, "customer_id", "ID")
    expected = add_behaviour(to_score, read_text_csv(log_path, {}), bspec, "ID")
    joined, rejected, as_of = add_behaviour_on_spark(on_spark, lines, bspec, "ID", None, 3_000)
    assert as_of == expected.as_of
    found = joined.toPandas()
    assert found["raw_row"].is_monotonic_increasing  # in the order scoring puts them back
    pd.testing.assert_frame_equal(found.drop(columns="raw_row"), expected.customers,
                                  check_dtype=False)  # fmt: skip
    rejected = rejected.toPandas().sort_values("raw_row").reset_index(drop=True)
    assert rejected["reason"].tolist() == expected.rejected_lines["reason"].tolist()
    assert len(rejected) >= 70
