"""Behaviour from a transaction log: each rule and each feature on a hand-computed log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.behaviour import (
    RFM_SEGMENTS,
    BehaviourSpec,
    TransactionSchema,
    add_behaviour,
    behaviour_features,
    check_lines,
    customer_attributes,
    default_as_of,
    join_behaviour,
    rfm_scores,
    rfm_segment,
)

PARAMS = {
    "columns": {"customer": "cust", "timestamp": "ts", "amount": "amount", "order": "order",
                "category": "cat", "channel": "chan", "status": "status"},
    "cancelled": {"status": ["Cancelled"]},
    "categories": ["food", "toys"],
    "channels": ["web"],
}  # fmt: skip
COLUMNS = ["cust", "ts", "amount", "order", "cat", "chan", "status"]
LOG = [
    ["1", "2024-01-01 10:00", "10", "A1", "food", "web", "Shipped"],
    ["1", "2024-01-01 10:00", "30", "A1", "toys", "store", "Shipped"],
    ["1", "2024-02-10 09:00", "60", "A2", "books", "web", "Shipped"],
    ["1", "2024-02-20", "25", "A3", "food", "web", "Cancelled"],
    ["2", "2023-12-01", "50", "B1", "food", "web", "Shipped"],
    ["2", "2024-03-05", "70", "B2", "food", "web", "Shipped"],  # after as_of
    ["1", "2024-01-01 10:00", "10", "A1", "food", "web", "Shipped"],  # line 0 again
    ["9", "2024-01-03", "5", "C1", "food", "web", "Shipped"],  # no such customer
    ["1", "not a date", "5", "A4", "food", "web", "Shipped"],
    ["1", "2024-01-05", "abc", "A5", "food", "web", "Shipped"],
    [None, "2024-01-05", "5", "A6", "food", "web", "Shipped"],
]
CUSTOMERS = pd.Series([1, 2, 3], name="ID")
AS_OF = pd.Timestamp("2024-03-01")


@pytest.fixture
def schema() -> TransactionSchema:
    return TransactionSchema.from_params(PARAMS, "int")


@pytest.fixture
def checked(schema):
    return check_lines(pd.DataFrame(LOG, columns=COLUMNS, dtype="str"), schema, CUSTOMERS)


def test_each_rule_rejects_its_lines_with_a_reason(checked):
    rejected = checked.rejected.set_index("raw_row")["reason"].to_dict()
    assert rejected == {
        6: "an exact repeat of an earlier line",
        7: "cust: 9 is not in the customer table",
        8: "ts: 'not a date' is not an ISO 8601 date",
        9: "amount: 'abc' is not a finite number",
        10: "cust: missing value",
    }
    assert len(checked.kept) == 6 and checked.kept["cancelled"].tolist() == [False] * 3 + [
        True] + [False] * 2  # fmt: skip
    assert checked.counts["repeated_line"] == {"cust": 1}


def test_unknown_customers_can_be_kept(schema):
    keep = TransactionSchema.from_params({**PARAMS, "unknown_customer": "keep"}, "int")
    checked = check_lines(pd.DataFrame(LOG, columns=COLUMNS, dtype="str"), keep, CUSTOMERS)
    assert 9 in checked.kept["customer"].tolist() and 7 not in checked.rejected["raw_row"].tolist()


def test_features_by_their_definitions(checked, schema):
    features = behaviour_features(checked.kept, CUSTOMERS, schema, AS_OF, window_days=30)
    assert list(features.columns) == list(schema.feature_columns)
    one, two, none = (features.loc[customer] for customer in (1, 2, 3))
    # 1: orders A1 (Jan 1 10:00, 40) and A2 (Feb 10 09:00, 60); A3 cancelled (25)
    assert one["recency_days"] == pytest.approx(19 + 15 / 24)
    assert one["tenure_days"] == pytest.approx(59 + 14 / 24)
    assert one["mean_days_between_orders"] == pytest.approx(39 + 23 / 24)
    assert (one["frequency"], one["frequency_window"], one["active_months"]) == (2, 1, 2)
    assert (one["monetary_total"], one["monetary_mean"]) == (100.0, 50.0)
    assert one[["category_share_food", "category_share_toys", "category_share_other"]].tolist(
        ) == pytest.approx([0.1, 0.3, 0.6])  # fmt: skip
    assert one[["channel_share_web", "channel_share_other"]].tolist() == pytest.approx([0.7, 0.3])
    assert one["return_share"] == pytest.approx(25 / 125) and one["no_transactions"] == 0
    # 2: one order before as_of (its March order is after it): 91 days since, and between
    assert (two["frequency"], two["recency_days"], two["tenure_days"]) == (1, 91.0, 91.0)
    assert two["mean_days_between_orders"] == 91.0 and two["frequency_window"] == 0
    assert two["category_share_food"] == 1.0 and two["return_share"] == 0.0
    # 3: no line: defined values (recency: the log's span before as_of) and the flag
    assert none["no_transactions"] == 1 and none["recency_days"] == 91.0
    assert none[["frequency", "monetary_total", "tenure_days", "active_months"]].eq(0).all()
    assert not features.isna().any().any()


def test_as_of_defaults_to_the_day_after_the_newest_line(checked):
    assert default_as_of(checked.kept) == pd.Timestamp("2024-03-06")


def test_quantity_times_price_and_other_cancellation_markers():
    params = {"columns": {"customer": "c", "timestamp": "t", "quantity": "q",
                          "unit_price": "p", "order": "o"},
              "cancelled": {"order_prefix": "C", "negative_quantity": True}}  # fmt: skip
    schema = TransactionSchema.from_params(params, "str")
    log = pd.DataFrame({"c": ["a", "a", "a"], "t": ["2024-01-01", "2024-01-02", "2024-01-03"],
                        "q": ["2", "-1", "1"], "p": ["2.5", "2.5", "4"],
                        "o": ["1", "2", "C3"]}, dtype="str")  # fmt: skip
    checked = check_lines(log, schema, pd.Series(["a"]))
    assert checked.kept["value"].tolist() == [5.0, -2.5, 4.0]
    assert checked.kept["cancelled"].tolist() == [False, True, True]
    features = behaviour_features(checked.kept, pd.Series(["a"]), schema,
                                  pd.Timestamp("2024-01-10"), 365)  # fmt: skip
    assert features.loc["a", "monetary_total"] == 5.0
    assert features.loc["a", "return_share"] == pytest.approx(6.5 / 11.5)


def test_a_layout_without_customer_time_or_amount_is_refused():
    with pytest.raises(ValueError, match="needs `customer`, `timestamp` and `amount`"):
        TransactionSchema.from_params({"columns": {"customer": "c", "timestamp": "t"}}, "int")


def test_the_rfm_map_names_every_cell_of_the_grid_once():
    names = {rfm_segment(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert names == {name for name, _, _ in RFM_SEGMENTS} and len(names) == 11
    assert rfm_segment(5, 5) == "Champions" and rfm_segment(1, 1) == "Lost"
    assert rfm_segment(1, 5) == "Cannot lose them" and rfm_segment(5, 1) == "New"


def test_rfm_scores_are_quintiles_and_customers_without_lines_score_one():
    features = pd.DataFrame({
        "recency_days": [1.0, 10, 20, 30, 40, 99], "frequency": [9, 7, 5, 3, 1, 0],
        "monetary_total": [900.0, 700, 500, 300, 100, 0], "no_transactions": [0] * 5 + [1],
    })  # fmt: skip
    scores = rfm_scores(features)
    assert scores["recency_score"].tolist() == [5, 4, 3, 2, 1, 1]
    assert scores["frequency_score"].tolist() == [5, 4, 3, 2, 1, 1]
    assert scores["rfm_segment"].tolist() == ["Champions", "Champions", "Loyal",
                                              "Hibernating", "Lost", "Lost"]  # fmt: skip
    assert np.array_equal(scores.index, features.index)


@pytest.mark.parametrize("as_of", [None, "2025-03-15"])
def test_the_fast_aggregation_equals_plain_pandas_group_bys(as_of):
    from customer_segmentation.data_generator import generate_customers, generate_transactions

    from .behaviour_reference import reference_behaviour_features
    from .conftest import project_parameters

    customers = generate_customers(1500, seed=11)
    log = generate_transactions(customers, seed=11).astype("str")
    log.loc[::97, "category"] = "garden"  # a category outside the list: other
    schema = TransactionSchema.from_params(project_parameters()["transactions"], "int")
    known = customers["ID"].iloc[: 1400]  # the log's other customers are rejected
    kept = check_lines(log, schema, known).kept
    date = pd.Timestamp(as_of) if as_of else default_as_of(kept)
    fast = behaviour_features(kept, known, schema, date, 90)
    reference = reference_behaviour_features(kept, known, schema, date, 90)
    pd.testing.assert_frame_equal(fast, reference, check_exact=False, rtol=1e-12)
    assert fast["no_transactions"].sum() > 0 and (fast["category_share_other"] > 0).any()


SALES_ORDERS = {
    "columns": {"customer": "CUSTOMERNAME", "timestamp": "ORDERDATE", "quantity": "QUANTITYORDERED",
                "unit_price": "PRICEEACH", "order": "ORDERNUMBER", "category": "PRODUCTLINE",
                "status": "STATUS"},
    "timestamp_format": "%m/%d/%Y %H:%M",
    "cancelled": {"status": ["Cancelled"]},
    "categories": ["Classic Cars", "Vintage Cars", "Motorcycles"],
}  # fmt: skip


def test_the_public_order_log_gives_every_customer_a_behaviour_and_a_segment():
    from .conftest import PUBLIC_DATA

    path = PUBLIC_DATA / "sales_orders.csv"
    if not path.exists():
        pytest.skip(f"public data absent: {path}")
    raw = pd.read_csv(path, dtype="str", encoding="cp850", keep_default_na=False,
                      na_values=[""])  # fmt: skip
    schema = TransactionSchema.from_params(SALES_ORDERS, "str")
    customers = pd.Series(sorted(raw["CUSTOMERNAME"].unique()))
    checked = check_lines(raw, schema, customers)
    assert len(checked.kept) == 2823 and checked.rejected.empty
    assert checked.kept["cancelled"].sum() == 60
    as_of = default_as_of(checked.kept)
    assert as_of == pd.Timestamp("2005-06-01")  # the newest order is of 31 May 2005
    features = behaviour_features(checked.kept, customers, schema, as_of, 365)
    bought = raw[raw["STATUS"] != "Cancelled"]
    orders = bought.groupby("CUSTOMERNAME")["ORDERNUMBER"].nunique()
    assert features["frequency"].sum() == orders.sum() and (features["frequency"] > 0).all()
    value = (bought["QUANTITYORDERED"].astype(float) * bought["PRICEEACH"].astype(float)).sum()
    assert features["monetary_total"].sum() == pytest.approx(value)
    shares = features.filter(like="category_share_").sum(axis=1)
    assert shares.to_numpy() == pytest.approx(np.ones(len(features)))
    assert rfm_scores(features)["rfm_segment"].nunique() >= 6


def test_a_log_with_no_line_kept_gives_defined_values_as_of_a_given_day(schema):
    empty = check_lines(pd.DataFrame([LOG[7]], columns=COLUMNS, dtype="str"), schema, CUSTOMERS)
    assert empty.kept.empty and len(empty.rejected) == 1
    features = behaviour_features(empty.kept, CUSTOMERS, schema, AS_OF, 365)
    assert (features["no_transactions"] == 1).all() and not features.isna().any().any()
    assert (features.drop(columns="no_transactions") == 0).all().all()
    with pytest.raises(ValueError, match="set `behaviour.as_of`"):
        default_as_of(empty.kept)


def test_join_behaviour_gives_each_raw_row_its_customers_values(checked, schema):
    features = behaviour_features(checked.kept, CUSTOMERS, schema, AS_OF, 365)
    raw = pd.DataFrame({"ID": ["2", " 1", "x", "3", "2"], "Age": ["30"] * 5})
    joined = join_behaviour(raw, features, "ID", "int")
    assert joined["frequency"].tolist() == [1, 2, 0, 0, 1]
    assert joined["no_transactions"].tolist() == [0, 0, 0, 1, 0]  # "x": rejected for its ID
    assert list(joined.columns) == ["ID", "Age", *schema.feature_columns]


def test_scoring_from_transactions_leaves_other_customers_lines_out(schema):
    spec = BehaviourSpec(schema, 365)
    lines = pd.DataFrame(LOG[:6], columns=COLUMNS, dtype="str")
    scored = add_behaviour(pd.DataFrame({"ID": ["2"]}), lines, spec, "ID", AS_OF)
    assert scored.rejected_lines.empty and scored.as_of == AS_OF
    assert scored.customers["frequency"].tolist() == [1]  # B2 is on or after as_of
    assert add_behaviour(pd.DataFrame({"ID": ["2"]}), lines, spec, "ID").as_of == pd.Timestamp(
        "2024-03-06")  # the day after the newest line, customer 1's included


def _segment_on(segment_on: str, **changes) -> dict:
    from customer_segmentation.config_loader import ProjectConfigLoader

    from .conftest import PROJECT_ROOT

    params = {"segment_on": segment_on, **changes}
    return ProjectConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base",
                               default_run_env="local", runtime_params=params)["parameters"]


def test_segment_on_completes_the_schema_and_features_from_behaviour_features():
    customers, both, alone = (_segment_on(mode) for mode in ("customers", "both", "behaviour"))
    chosen = [entry["column"] for entry in both["behaviour"]["features"]["numeric"]]
    assert "recency_days" not in customers["raw_schema"]["columns"]
    assert list(both["raw_schema"]["columns"]) == [*customers["raw_schema"]["columns"], *chosen]
    assert both["raw_schema"]["columns"]["recency_days"]["min"] == 0
    assert both["features"]["numeric"] == [*customers["features"]["numeric"],
                                           *both["behaviour"]["features"]["numeric"]]
    assert list(alone["raw_schema"]["columns"]) == ["ID", *chosen]
    assert alone["features"]["numeric"] == both["behaviour"]["features"]["numeric"]
    assert not alone["features"]["ordinal"] and not alone["features"]["binary"]


def test_segment_on_refuses_what_it_cannot_join_or_derive():
    with pytest.raises(ValueError, match="segment_on must be one of"):
        _segment_on("everything")
    with pytest.raises(ValueError, match=r"unknown: \['basket_size'\]"):
        _segment_on("both", behaviour={"features": {"numeric": ["basket_size"]}})
    with pytest.raises(ValueError, match="needs raw_schema.id_column"):
        _segment_on("both", raw_schema={"id_column": None})


def test_a_customer_table_without_a_column_stops_before_its_log_is_read(parameters):
    from customer_segmentation.pipelines.behaviour.nodes import customer_identifiers
    from customer_segmentation.schema import RawDataError

    from .conftest import project_parameters

    both = project_parameters(segment_on="both")
    spec = BehaviourSpec.from_params(both["transactions"], both["behaviour"], both["raw_schema"])
    raw = pd.DataFrame({"ID": ["1", "2"], "Age": ["30", "40"]})
    with pytest.raises(RawDataError, match="lacks required column\\(s\\) 'Sex'"):
        customer_identifiers(raw, both["raw_schema"], both["features"], "c.csv", spec)
    header_only = pd.DataFrame(columns=list(both["raw_schema"]["columns"])[:8])
    with pytest.raises(RawDataError, match="has a header but no data rows"):
        customer_identifiers(header_only, both["raw_schema"], both["features"], "c.csv", spec)


def test_each_customer_takes_the_most_frequent_value_of_an_attribute():
    schema = TransactionSchema.from_params({**PARAMS, "attributes": ["country"]}, "int")
    rows = [["1", "2024-01-01", "5", "A", "food", "web", "Shipped", country]
            for country in ("FR", "DE", "DE", "FR", None)]  # a tie: the first in sort order
    rows += [["2", "2024-01-02", "5", "B", "food", "web", "Shipped", "NA"]]
    raw = pd.DataFrame(rows, columns=[*COLUMNS, "country"], dtype="str")
    kept = check_lines(raw, schema, CUSTOMERS).kept
    attributes = customer_attributes(kept, CUSTOMERS, ["country"])
    countries = attributes["country"]
    assert countries.tolist()[:2] == ["DE", "NA"] and pd.isna(countries.iloc[2])
    with pytest.raises(ValueError, match=r"lacks the configured column\(s\) \['country'\]"):
        check_lines(raw.drop(columns="country"), schema, CUSTOMERS)
