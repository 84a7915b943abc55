"""The embedded data generator: schema-valid, reproducible, realistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.data_generator import (
    ARCHETYPES,
    generate_customers,
    generate_transactions,
    main,
)
from customer_segmentation.schema import RawSchema, check_rows

from .conftest import PROJECT_ROOT


def test_generated_table_passes_every_schema_rule(raw_schema):
    customers = generate_customers(5000, seed=1)
    schema = RawSchema.from_params(raw_schema)
    assert list(customers.columns) == list(schema.columns)
    check = check_rows(customers, schema)
    assert check.valid.all(), check.reasons.head().tolist()


def test_same_seed_same_table_other_seed_other_table():
    pd.testing.assert_frame_equal(generate_customers(500, 3), generate_customers(500, 3))
    assert not generate_customers(500, 3).equals(generate_customers(500, 4))


def test_embedded_file_is_the_generator_output():
    embedded = pd.read_csv(PROJECT_ROOT / "data" / "01_raw" / "customers.csv")
    pd.testing.assert_frame_equal(embedded, generate_customers(2000, seed=2026))


def test_embedded_log_is_the_generator_output_and_archetypes_buy_differently():
    embedded = pd.read_csv(PROJECT_ROOT / "data" / "01_raw" / "transactions.csv")
    log = generate_transactions(generate_customers(2000, seed=2026), seed=2026)
    log["timestamp"] = log["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")
    pd.testing.assert_frame_equal(embedded, log)
    assert log["timestamp"].is_monotonic_increasing and 20_000 < len(log) < 60_000
    rng = np.random.default_rng(2026)  # the generator's first draw: each customer's archetype
    share = np.asarray(ARCHETYPES["share"])
    archetype = pd.Series(rng.choice(len(share), size=2000, p=share / share.sum()),
                          index=generate_customers(2000, seed=2026)["ID"])  # fmt: skip
    orders = log.groupby("customer_id")["order_id"].nunique()
    per_archetype = orders.groupby(archetype.reindex(orders.index)).mean()
    assert per_archetype.idxmax() == 0 and per_archetype.idxmin() == 2


def test_cli_writes_customers_and_their_transactions(tmp_path):
    main(["--rows", "30", "--seed", "9", "--output", str(tmp_path / "c.csv"),
          "--transactions", str(tmp_path / "t.csv")])  # fmt: skip
    log = pd.read_csv(tmp_path / "t.csv")
    assert set(log["customer_id"]) <= set(pd.read_csv(tmp_path / "c.csv")["ID"])
    assert list(log.columns) == ["order_id", "customer_id", "timestamp", "category", "channel",
                                 "quantity", "unit_price", "status"]  # fmt: skip


def test_marginals_and_correlations_resemble_the_reference(reference_customers):
    generated = generate_customers(20_000, seed=5).drop(columns="ID")
    reference = reference_customers.drop(columns="ID")
    relative_mean_gap = (generated.mean() - reference.mean()).abs() / reference.std()
    assert relative_mean_gap.max() < 0.15
    assert np.abs(generated.corr() - reference.corr()).to_numpy().max() < 0.3
    # the strongest facts of the reference hold: income rises with occupation and city size
    assert generated.corr().loc["Income", "Occupation"] > 0.5
    assert generated.corr().loc["Occupation", "Settlement size"] > 0.3


def test_cli_writes_the_requested_file(tmp_path):
    output = tmp_path / "out" / "customers.csv"
    main(["--rows", "50", "--seed", "9", "--output", str(output)])
    pd.testing.assert_frame_equal(pd.read_csv(output), generate_customers(50, 9))


@pytest.mark.parametrize("rows", [1, 10])
def test_small_tables(rows):
    assert len(generate_customers(rows, 0)) == rows
