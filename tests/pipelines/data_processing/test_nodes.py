"""The data_processing nodes: PRODUCT §5's whole-file and row rules, one test each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.behaviour import BehaviourSpec
from customer_segmentation.config_loader import ProjectConfigLoader
from customer_segmentation.pipelines.data_processing.nodes import (
    RejectedShareError,
    data_quality_metrics,
    enforce_rejected_share,
    validate_customers,
)
from customer_segmentation.schema import ROW_INDEX, RawDataError, RawSchema

from ...conftest import project_parameters

PATH = "data/01_raw/customers.csv"


def _validate(raw, raw_schema):
    return validate_customers(raw, raw_schema, project_parameters()["features"], PATH)


def _with_value(raw: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    bad = raw.astype({column: "object"})
    bad.loc[row, column] = value
    return bad


def test_valid_rows_pass_with_schema_dtypes(raw_customers, raw_schema):
    primary, rejected, summary = _validate(raw_customers, raw_schema)
    assert len(primary) == len(raw_customers) and rejected.empty
    assert list(primary.columns) == list(raw_schema["columns"])
    assert primary["Income"].dtype == "float64" and primary["ID"].dtype == "int64"
    assert primary["Sex"].dtype == "int8"  # the smallest integer type that holds the codes
    assert summary.pop("raw_data_sha256")
    assert summary == {
        "raw_data_path": PATH,
        "rows_raw": 300,
        "rows_primary": 300,
        "rows_rejected": 0,
        "rejected_share": 0.0,
        "violations": {},
    }


@pytest.mark.parametrize("rows_per_chunk", [1, 7, 100])
def test_a_table_in_chunks_gives_what_the_whole_table_gives(raw_customers, raw_schema,
                                                           rows_per_chunk):  # fmt: skip
    raw = raw_customers.astype(str)
    raw.loc[3, "Age"] = "old"
    raw.loc[250, "ID"] = raw.loc[10, "ID"]  # repeats an ID of an earlier chunk
    raw.loc[251, "ID"] = raw.loc[250, "ID"]  # and of its own chunk
    raw.loc[[252, 253], "ID"] = raw.loc[20, "ID"]  # and breaks another rule, or does not
    raw.loc[[20, 252], "Income"] = "-1"
    chunks = (raw.iloc[start : start + rows_per_chunk].reset_index(drop=True)
              for start in range(0, len(raw), rows_per_chunk))  # checked on threads
    whole, in_chunks = _validate(raw, raw_schema), _validate(chunks, raw_schema)
    for one, other in zip(whole[:2], in_chunks[:2], strict=True):
        pd.testing.assert_frame_equal(one, other)
    assert in_chunks[1]["raw_row"].tolist() == [3, 20, 250, 251, 252, 253]
    assert in_chunks[1]["reason"].str.contains("repeats an earlier row's ID").sum() == 4
    assert in_chunks[1]["reason"].iloc[4] == (  # the rules' order: the identifier's last
        f"Income: -1 is outside [0, 10000000]; ID: {raw.loc[20, 'ID']} repeats an earlier "
        "row's ID"
    )  # fmt: skip
    assert whole[2] == in_chunks[2]  # the same summary, the same content hash
    assert whole[2]["violations"]["duplicate_id"] == {"ID": 4}


@pytest.mark.parametrize(
    ("column", "value", "rule", "reason"),
    [
        ("Age", None, "missing_value", "Age: missing value"),
        ("Income", "abc", "wrong_type", "Income: 'abc' is not a finite number"),
        ("Age", 34.5, "wrong_type", "Age: 34.5 is not an integer"),
        ("Education", 7, "unknown_code", "Education: code 7 is not in the legend (0, 1, 2, 3)"),
        ("Sex", "f", "wrong_type", "Sex: 'f' is not an integer"),
        ("Age", 150, "out_of_range", "Age: 150 is outside [18, 100]"),
        ("Income", -5, "out_of_range", "Income: -5 is outside [0, 10000000]"),
    ],
)
def test_each_row_rule_quarantines_the_row_with_its_reason(
    raw_customers, raw_schema, column, value, rule, reason
):
    raw = _with_value(raw_customers, 42, column, value)
    primary, rejected, summary = _validate(raw, raw_schema)
    assert len(primary) + len(rejected) == len(raw)
    assert rejected[["raw_row", "reason"]].to_dict("records") == [{"raw_row": 42, "reason": reason}]
    assert summary["violations"] == {rule: {column: 1}}
    assert raw.loc[42, "ID"] not in set(primary["ID"])


def test_duplicate_id_keeps_the_first_and_rejects_the_repeat(raw_customers, raw_schema):
    raw = raw_customers.copy()
    raw.loc[10, "ID"] = raw.loc[3, "ID"]
    primary, rejected, summary = _validate(raw, raw_schema)
    assert rejected["raw_row"].tolist() == [10]
    assert rejected["reason"].item() == f"ID: {raw.loc[3, 'ID']} repeats an earlier row's ID"
    assert primary["ID"].is_unique and len(primary) == len(raw) - 1
    assert summary["violations"] == {"duplicate_id": {"ID": 1}}


def test_a_row_breaking_several_rules_lists_every_reason(raw_customers, raw_schema):
    raw = _with_value(_with_value(raw_customers, 5, "Sex", 3), 5, "Age", 12)
    _, rejected, summary = _validate(raw, raw_schema)
    assert rejected["reason"].item() == (
        "Sex: code 3 is not in the legend (0, 1); Age: 12 is outside [18, 100]"
    )
    assert summary["rows_rejected"] == 1
    assert summary["violations"] == {"unknown_code": {"Sex": 1}, "out_of_range": {"Age": 1}}


def test_rejected_rows_keep_their_raw_values(raw_customers, raw_schema):
    raw = _with_value(raw_customers, 8, "Income", "n/a?")
    _, rejected, _ = _validate(raw, raw_schema)
    assert rejected.loc[0, "Income"] == "n/a?"
    assert rejected.loc[0, "ID"] == raw.loc[8, "ID"]


def test_missing_required_column_stops_naming_file_and_column(raw_customers, raw_schema):
    with pytest.raises(
        RawDataError,
        match=r"'data/01_raw/customers.csv' lacks required column\(s\) 'Income'.*expects",
    ):
        _validate(raw_customers.drop(columns="Income"), raw_schema)


def test_header_without_rows_stops_naming_the_file(raw_customers, raw_schema):
    with pytest.raises(
        RawDataError, match="'data/01_raw/customers.csv' has a header but no data rows"
    ):
        _validate(raw_customers.iloc[:0], raw_schema)


def test_extra_columns_are_ignored(raw_customers, raw_schema, caplog):
    raw = raw_customers.assign(Notes="x")
    primary, rejected, _ = _validate(raw, raw_schema)
    assert "Notes" not in primary.columns and rejected.empty
    assert "Ignoring columns not in raw_schema: Notes" in caplog.text


def test_joined_behaviour_columns_are_expected_and_the_files_own_extra_ones_named(
    raw_customers, caplog
):
    """With behaviour (``behaviour_spec``), the behaviour columns the run does not segment
    on are the project's own; a column of the user's file outside the schema is named."""
    parameters = project_parameters(segment_on="both")
    spec = BehaviourSpec.from_params(parameters["transactions"], parameters["behaviour"],
                                     parameters["raw_schema"])  # fmt: skip
    behaviour = {name: 1.0 for name in spec.schema.feature_columns}
    raw = raw_customers.assign(**behaviour, Notes="x")
    primary, rejected, _ = validate_customers(raw, parameters["raw_schema"],
                                              parameters["features"], PATH, spec)  # fmt: skip
    assert len(primary) == len(raw) and rejected.empty
    assert "Ignoring columns not in raw_schema: Notes\n" in caplog.text
    unchosen = set(spec.schema.feature_columns) - set(parameters["raw_schema"]["columns"])
    assert unchosen and not set(primary.columns) & unchosen


def test_rejected_share_above_threshold_fails_loudly(raw_customers, raw_schema):
    raw = raw_customers.astype({"Age": "float64"})
    raw.loc[:20, "Age"] = np.nan  # 21 of 300 = 7 %
    primary, _, summary = _validate(raw, raw_schema)
    with pytest.raises(RejectedShareError, match=r"21 of 300 rows \(7.0%\).*above .*5.0%"):
        enforce_rejected_share(primary, summary, 0.05)


def test_rejected_share_at_threshold_passes(raw_customers, raw_schema):
    raw = raw_customers.astype({"Age": "float64"})
    raw.loc[:14, "Age"] = np.nan  # 15 of 300 = 5 %
    primary, _, summary = _validate(raw, raw_schema)
    assert enforce_rejected_share(primary, summary, 0.05) is primary


def test_reference_data_passes_whole(reference_customers, raw_schema):
    primary, rejected, _ = _validate(reference_customers, raw_schema)
    assert len(primary) == 2000 and rejected.empty


def test_data_quality_metrics_are_the_row_counts(raw_customers, raw_schema):
    metrics = data_quality_metrics(_validate(raw_customers, raw_schema)[2])
    assert metrics["rows_raw"] == {"value": 300.0, "step": 0}
    assert set(metrics) == {"rows_raw", "rows_primary", "rows_rejected", "rejected_share"}


def _without_id(raw_schema: dict) -> dict:
    columns = {name: spec for name, spec in raw_schema["columns"].items() if name != "ID"}
    return {"columns": columns}


def test_a_table_without_identifier_is_known_by_row_position(raw_customers, raw_schema):
    raw = raw_customers.drop(columns="ID").astype(str)
    raw.loc[150, "Age"] = "old"
    chunks = (raw.iloc[start : start + 100].reset_index(drop=True) for start in (0, 100, 200))
    primary, rejected, summary = _validate(chunks, _without_id(raw_schema))
    assert primary[ROW_INDEX].tolist() == [row for row in range(300) if row != 150]
    assert rejected[[ROW_INDEX, "raw_row"]].values.tolist() == [[150, 150]]
    assert summary["rows_raw"] == 300 and summary["rows_rejected"] == 1


def test_a_table_holding_the_position_column_name_stops(raw_customers, raw_schema):
    raw = raw_customers.rename(columns={"ID": ROW_INDEX})
    with pytest.raises(RawDataError, match=f"has a column '{ROW_INDEX}'.*declare that column"):
        _validate(raw, _without_id(raw_schema))


@pytest.mark.parametrize(
    ("id_column", "expected"),
    [
        ("CustomerID", r"id_column is 'CustomerID', which is not an identifier column of "
                       r"raw_schema.columns: 'ID' \(identifier\), 'Sex' \(binary\)"),
        ("Age", r"id_column is 'Age'.*leave id_column out"),
        (None, r"declares the identifier column 'ID' but no id_column: set `id_column: ID`"),
    ],
)  # fmt: skip
def test_a_wrong_or_missing_id_column_names_the_key_and_the_columns(
    raw_schema, id_column, expected
):
    params = {**raw_schema, "id_column": id_column}
    with pytest.raises(ValueError, match=expected):
        RawSchema.from_params(params)


def test_kedro_parameters_name_the_position_when_id_column_is_left_out(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "local").mkdir()
    (tmp_path / "base" / "parameters.yml").write_text("raw_schema:\n  columns: {}\n")
    loader = ProjectConfigLoader(str(tmp_path), base_env="base", default_run_env="local")
    assert loader["parameters"]["raw_schema"]["id_column"] == ROW_INDEX


def test_text_cells_read_as_numbers_exactly_as_pandas_reads_them():
    from customer_segmentation.schema import _numbers

    cells = [" 12 ", "1e5", "+.5", "5.", "-0", "0.1", "2.675", "1e400", "nan", "Infinity",
             "-inf", "1_000", "0x10", "1,5", "abc", "", None, "٣", "12 345",
             "9007199254740993"]  # fmt: skip
    expected = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").astype("float64")
    expected = expected.where(np.isfinite(expected))
    for text in (pd.Series(cells, dtype="str"), pd.Series(cells[:8], dtype="str")):
        pd.testing.assert_series_equal(_numbers(text), expected[: len(text)], check_names=False)


def test_identifiers_read_alone_as_in_any_column():
    """A column of digits alone takes Arrow's integer cast; any other column the rules for
    every kind of text. Each cell gives the same identifier and masks either way."""
    from customer_segmentation.schema import _integer_identifiers

    cells = ["007", "42", " 42 ", "+5", "-3", "42.0", "0x10", "1e3", "٣", "", None, "abc",
             "9223372036854775807", "9223372036854775808", "-9223372036854775808",
             "00000000000000000000001", "9007199254740993"]  # fmt: skip
    column = pd.Series(cells, dtype="str")
    together = _integer_identifiers(column, column.isna())
    for position, cell in enumerate(cells):
        alone = pd.Series([cell], dtype="str")
        for mine, theirs in zip(_integer_identifiers(alone, alone.isna()), together, strict=True):
            assert mine.tolist() == theirs.iloc[[position]].tolist(), cell
