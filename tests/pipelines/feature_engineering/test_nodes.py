"""The feature_engineering nodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_segmentation.features import FeatureSpec
from customer_segmentation.pipelines.data_processing.nodes import validate_customers
from customer_segmentation.pipelines.feature_engineering.nodes import (
    build_kprototypes_input,
    build_model_input,
    fit_preprocessor,
)


@pytest.fixture
def primary(raw_customers, raw_schema, features) -> pd.DataFrame:
    return validate_customers(raw_customers, raw_schema, features, "raw.csv")[0]


def test_model_input_has_id_first_then_scaled_features(primary, parameters, raw_schema):
    preprocessor = fit_preprocessor(primary, raw_schema, parameters["features"])
    model_input = build_model_input(primary, preprocessor)
    features = parameters["features"]
    assert list(model_input.columns) == [
        "ID", *features["numeric"], *features["ordinal"], *features["binary"]
    ]  # fmt: skip
    assert model_input["ID"].tolist() == primary["ID"].tolist()
    scaled = model_input[[*features["numeric"], *features["ordinal"]]]
    np.testing.assert_allclose(scaled.mean(), 0, atol=1e-9)
    np.testing.assert_allclose(scaled.std(ddof=0), 1, atol=1e-9)
    for name in features["binary"]:  # 0 or 1 as the legend orders the codes, never scaled
        assert model_input[name].tolist() == primary[name].tolist()


def test_ordinal_columns_follow_legend_order_not_value_order(raw_schema):
    schema = {
        "id_column": "id",
        "columns": {
            "id": {"kind": "identifier", "dtype": "int"},
            "size": {"kind": "ordinal", "codes": {"small": "S", "medium": "M", "large": "L"}},
        },
    }
    primary = pd.DataFrame({"id": [1, 2, 3, 4], "size": ["large", "small", "medium", "small"]})
    features = {"numeric": [], "ordinal": ["size"], "nominal": [], "scaler": "minmax"}
    model_input = build_model_input(primary, fit_preprocessor(primary, schema, features))
    assert model_input["size"].tolist() == [1.0, 0.0, 0.5, 0.0]


def test_nominal_columns_are_one_hot_with_a_column_per_code():
    schema = {
        "id_column": "id",
        "columns": {
            "id": {"kind": "identifier", "dtype": "int"},
            "region": {
                "kind": "nominal",
                "codes": {"north": "North", "south": "South", "east": "East"},
            },
        },
    }
    primary = pd.DataFrame({"id": [1, 2], "region": ["south", "north"]})
    features = {"numeric": [], "ordinal": [], "nominal": ["region"]}
    model_input = build_model_input(primary, fit_preprocessor(primary, schema, features))
    assert list(model_input.columns) == ["id", "region_north", "region_south", "region_east"]
    assert model_input.drop(columns="id").to_numpy().tolist() == [[0, 1, 0], [1, 0, 0]]


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ({"numeric": ["Height"]}, "features.numeric lists 'Height', which raw_schema lacks"),
        ({"numeric": ["Sex"]}, "features.numeric lists 'Sex', a binary column"),
        ({"ordinal": ["Age"]}, "features.ordinal lists 'Age', a numeric column"),
        ({"numeric": ["Age"], "scaler": "log"}, "features.scaler must be one of"),
        (
            {"numeric": [{"column": "Income", "transform": "sqrt"}]},
            "'Income' has transform 'sqrt'; supported: none, log1p, signed_log1p, asinh",
        ),
        ({"numeric": ["Age", "Age"]}, "listed more than once"),
    ],
)
def test_feature_lists_that_contradict_the_schema_are_refused(primary, raw_schema, wrong, message):
    with pytest.raises(ValueError, match=message):
        fit_preprocessor(primary, raw_schema, wrong)


def test_mixed_input_has_scaled_numbers_and_legend_positions(primary, parameters, raw_schema):
    features = parameters["features"]
    preprocessor = fit_preprocessor(primary, raw_schema, features)
    mixed = build_kprototypes_input(primary, preprocessor)
    model_input = build_model_input(primary, preprocessor)
    assert list(mixed.columns) == [
        "ID", *features["numeric"], *features["ordinal"], *features["binary"]
    ]  # fmt: skip
    pd.testing.assert_frame_equal(mixed[features["numeric"]], model_input[features["numeric"]])
    assert mixed["Education"].tolist() == primary["Education"].tolist()  # codes 0..3 in order
    assert mixed["Sex"].dtype == "int64"


def test_mixed_input_maps_text_codes_to_their_legend_position():
    schema = {"id_column": "id", "columns": {
        "id": {"kind": "identifier", "dtype": "int"},
        "spend": {"kind": "numeric", "dtype": "float"},
        "tier": {"kind": "ordinal", "codes": {"bronze": "B", "silver": "S", "gold": "G"}},
        "region": {"kind": "nominal", "codes": {"north": "N", "south": "S"}},
    }}  # fmt: skip
    primary = pd.DataFrame({
        "id": [1, 2, 3], "spend": [1.0, 2.0, 3.0],
        "tier": ["gold", "bronze", "silver"], "region": ["south", "north", "south"],
    })  # fmt: skip
    features = {"numeric": ["spend"], "ordinal": ["tier"], "nominal": ["region"]}
    mixed = build_kprototypes_input(primary, fit_preprocessor(primary, schema, features))
    assert mixed["tier"].tolist() == [2, 0, 1] and mixed["region"].tolist() == [1, 0, 1]


def test_log1p_is_applied_before_scaling(primary, raw_schema):
    features = {"numeric": ["Age", {"column": "Income", "transform": "log1p"}],
                "scaler": "standard"}  # fmt: skip
    model_input = build_model_input(primary, fit_preprocessor(primary, raw_schema, features))
    logged = np.log1p(primary["Income"])
    expected = (logged - logged.mean()) / logged.std(ddof=0)
    np.testing.assert_allclose(model_input["Income"], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("scaler", "centre", "scale"),
    [("standard", np.mean, np.std), ("minmax", np.min, np.ptp),
     ("robust", np.median, lambda v: np.subtract(*np.percentile(v, [75, 25])))],
)  # fmt: skip
def test_each_scaler_centres_and_scales_as_documented(primary, raw_schema, scaler, centre, scale):
    features = {"numeric": ["Income"], "scaler": scaler}
    model_input = build_model_input(primary, fit_preprocessor(primary, raw_schema, features))
    income = primary["Income"].to_numpy()
    np.testing.assert_allclose(model_input["Income"], (income - centre(income)) / scale(income))


def test_a_constant_column_maps_to_zero():
    schema = {"id_column": "id", "columns": {"id": {"kind": "identifier", "dtype": "int"},
                                              "x": {"kind": "numeric"}}}  # fmt: skip
    primary = pd.DataFrame({"id": [1, 2], "x": [3.0, 3.0]})
    features = {"numeric": ["x"]}
    model_input = build_model_input(primary, fit_preprocessor(primary, schema, features))
    assert model_input["x"].tolist() == [0.0, 0.0]


def test_ordinal_and_several_nominal_columns_keep_their_blocks():
    schema = {
        "id_column": "id",
        "columns": {
            "id": {"kind": "identifier", "dtype": "int"},
            "size": {"kind": "ordinal", "codes": {"small": "S", "large": "L"}},
            "region": {"kind": "nominal", "codes": {"north": "N", "south": "S", "east": "E"}},
            "channel": {"kind": "nominal", "codes": {"web": "Web", "shop": "Shop"}},
        },
    }
    primary = pd.DataFrame({
        "id": [1, 2, 3],
        "size": ["large", "small", "small"],
        "region": ["east", "north", "south"],
        "channel": ["shop", "shop", "web"],
    })  # fmt: skip
    features = {"ordinal": ["size"], "nominal": ["region", "channel"], "scaler": "minmax"}
    model_input = build_model_input(primary, fit_preprocessor(primary, schema, features))
    assert model_input.drop(columns="id").to_numpy().tolist() == [
        [1, 0, 0, 1, 0, 1],
        [0, 1, 0, 0, 0, 1],
        [0, 0, 1, 0, 1, 0],
    ]


def test_a_binary_column_is_its_legend_position_never_scaled():
    schema = {"id_column": "id", "columns": {
        "id": {"kind": "identifier", "dtype": "int"},
        "app": {"kind": "binary", "codes": {"yes": "uses the app", "no": "no app"}},
        "x": {"kind": "numeric"},
    }}  # fmt: skip
    primary = pd.DataFrame({"id": [1, 2, 3, 4], "app": ["no", "no", "no", "yes"],
                            "x": [1.0, 2.0, 3.0, 4.0]})  # fmt: skip
    features = {"numeric": ["x"], "binary": ["app"]}
    preprocessor = fit_preprocessor(primary, schema, features)
    assert build_model_input(primary, preprocessor)["app"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert build_kprototypes_input(primary, preprocessor)["app"].tolist() == [1, 1, 1, 0]
    three = {**schema["columns"], "app": {"kind": "nominal", "codes": {"a": "A", "b": "B",
                                                                        "c": "C"}}}  # fmt: skip
    with pytest.raises(ValueError, match="features.binary lists 'app', which has 3 codes"):
        fit_preprocessor(primary, {**schema, "columns": three}, features)


@pytest.mark.parametrize(
    ("transform", "expected"),
    [("signed_log1p", [-np.log1p(1000.0), 0.0, np.log1p(1.5), np.log1p(1e6)]),
     ("asinh", np.arcsinh([-1000.0, 0.0, 1.5, 1e6]))],
)  # fmt: skip
def test_transforms_for_values_of_either_sign(transform, expected):
    schema = {"id_column": "id", "columns": {"id": {"kind": "identifier", "dtype": "int"},
                                              "balance": {"kind": "numeric"}}}  # fmt: skip
    primary = pd.DataFrame({"id": [1, 2, 3, 4], "balance": [-1000.0, 0.0, 1.5, 1e6]})
    features = {"numeric": [{"column": "balance", "transform": transform}], "scaler": "minmax"}
    model_input = build_model_input(primary, fit_preprocessor(primary, schema, features))
    expected = np.asarray(expected)
    scaled = (expected - expected.min()) / np.ptp(expected)
    np.testing.assert_allclose(model_input["balance"], scaled, rtol=0, atol=1e-15)


def test_clip_holds_values_at_the_training_quantiles_then_transforms():
    schema = {"id_column": "id", "columns": {"id": {"kind": "identifier", "dtype": "int"},
                                              "spend": {"kind": "numeric"}}}  # fmt: skip
    spend = np.arange(101, dtype=float) ** 2  # quantiles 0.1 and 0.9: 100 and 8100
    primary = pd.DataFrame({"id": np.arange(101), "spend": spend})
    features = {"numeric": [{"column": "spend", "transform": "log1p", "clip": [0.1, 0.9]}],
                "scaler": "minmax"}  # fmt: skip
    preprocessor = fit_preprocessor(primary, schema, features)
    np.testing.assert_array_equal(preprocessor.clip_bounds, [[100.0], [8100.0]])
    scored = pd.DataFrame({"id": [1, 2, 3], "spend": [0.0, 1e9, 2500.0]})
    expected = (np.log1p([100.0, 8100.0, 2500.0]) - np.log1p(100)) / np.log(8101 / 101)
    np.testing.assert_allclose(build_model_input(scored, preprocessor)["spend"], expected,
                               rtol=0, atol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match=r"'spend' has clip \[0.9, 0.1\]; write two quantiles"):
        fit_preprocessor(primary, schema, {"numeric": [{"column": "spend", "clip": [0.9, 0.1]}]})


DERIVED_SCHEMA = {"columns": {
    "spend_a": {"kind": "numeric"}, "spend_b": {"kind": "numeric"},
    "visits": {"kind": "numeric"}, "born": {"kind": "numeric", "dtype": "int"},
    "joined": {"kind": "date", "format": "%d/%m/%Y"},
}}  # fmt: skip


def test_derived_features_are_computed_from_raw_columns_in_every_path():
    features = {
        "numeric": ["total", {"column": "per_visit", "transform": "asinh"}, "age"],
        "derived": {
            "total": {"sum": ["spend_a", "spend_b"], "label": "total spend"},
            "per_visit": {"ratio": ["total", "visits"]},
            "age": {"years_since": "born"},
        },
        "as_of": "2024-06-30", "scaler": "minmax",
    }  # fmt: skip
    primary = pd.DataFrame({"row_index": range(3), "spend_a": [10.0, 0.0, 5.0],
                            "spend_b": [30.0, 0.0, 5.0], "visits": [4.0, 0.0, 1.0],
                            "born": [1980, 2000, 1990]})  # fmt: skip
    preprocessor = fit_preprocessor(primary, DERIVED_SCHEMA, features)
    spec = preprocessor.spec
    assert spec.inputs == ("spend_a", "spend_b", "visits", "born")
    assert spec.title("total") == "total spend"
    numeric = preprocessor.derive(spec.input_values(primary))
    np.testing.assert_array_equal(numeric, [[40, 10, 44], [0, 0, 24], [10, 10, 34]])
    model_input = build_model_input(primary, preprocessor)  # a visit-less ratio is 0
    np.testing.assert_allclose(model_input["per_visit"], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(model_input["age"], [1.0, 0.0, 0.5])


@pytest.mark.parametrize(
    ("derived", "extra", "message"),
    [
        ({"x": {"mean": ["spend_a", "spend_b"]}}, {}, "write one operation of sum, difference"),
        ({"x": {"ratio": ["spend_a"]}}, {}, "ratio takes 2 column"),
        ({"x": {"sum": ["spend_a", "nope"]}}, {}, "'nope' is no numeric or date raw column"),
        ({"spend_a": {"sum": ["spend_a", "spend_b"]}}, {}, "the name is taken"),
        ({"x": {"years_since": "born"}}, {}, "set it to a date"),
        ({"x": {"days_since": "born"}}, {}, "days_since counts the days since a date column"),
        ({"x": {"sum": ["joined", "born"]}}, {}, "'joined' is a date"),
        ({"x": {"sum": ["spend_a", "spend_b"]}}, {"transform": "log1p"}, "use signed_log1p"),
    ],
)  # fmt: skip
def test_a_wrong_derived_feature_is_refused_when_read(derived, extra, message):
    features = {"numeric": [{"column": "x", **extra}], "derived": derived}
    with pytest.raises(ValueError, match=message):
        FeatureSpec.from_params(DERIVED_SCHEMA, features)


def test_dates_count_up_to_the_newest_date_in_the_training_data():
    features = {
        "numeric": ["tenure", "age"],
        "derived": {"tenure": {"days_since": "joined"}, "age": {"years_since": "born"}},
    }  # fmt: skip
    raw = pd.DataFrame({"spend_a": [1.0] * 3, "spend_b": [1.0] * 3, "visits": [1.0] * 3,
                        "born": ["1980", "2000", "1990"],
                        "joined": ["31/12/2023", "30/06/2024", "01/01/2024"]})  # fmt: skip
    primary, _, _ = validate_customers(raw, DERIVED_SCHEMA, features, "raw.csv")
    preprocessor = fit_preprocessor(primary, DERIVED_SCHEMA, features)
    assert np.datetime64(int(preprocessor.as_of), "D") == np.datetime64("2024-06-30")
    numeric = preprocessor.derive(preprocessor.spec.input_values(primary))
    np.testing.assert_array_equal(numeric, [[182, 44], [0, 24], [181, 34]])
    # features.as_of, when set, wins; years_since of a date is in (fractional) years
    fixed = dict(features, as_of="2025-06-30", derived={"tenure": {"years_since": "joined"},
                                                        "age": {"years_since": "born"}})
    preprocessor = fit_preprocessor(primary, DERIVED_SCHEMA, fixed)
    numeric = preprocessor.derive(preprocessor.spec.input_values(primary))
    np.testing.assert_allclose(numeric[:, 0], np.array([547, 365, 546]) / 365.2425)


def test_a_date_in_another_format_is_rejected_with_a_reason():
    features = {"numeric": ["tenure"], "derived": {"tenure": {"days_since": "joined"}}}
    raw = pd.DataFrame({"spend_a": [1.0] * 3, "spend_b": [1.0] * 3, "visits": [1.0] * 3,
                        "born": [1980] * 3, "joined": ["31/12/2023", "2024-06-30", "31/02/2024"]})
    schema = {"columns": {**DERIVED_SCHEMA["columns"],
                          "joined": {"kind": "date", "format": "%d/%m/%Y", "min": "2024-01-01"}}}
    primary, rejected, _ = validate_customers(raw, schema, features, "raw.csv")
    assert rejected["reason"].tolist() == [
        "joined: 2023-12-31 is outside [2024-01-01, inf]",
        "joined: '2024-06-30' is not a date written %d/%m/%Y",
        "joined: '31/02/2024' is not a date written %d/%m/%Y",
    ]
    assert primary.empty


SENTINEL_SCHEMA = {"columns": {
    "pdays": {"kind": "numeric", "dtype": "int", "min": 0, "label": "days since last contact",
              "sentinels": {-1: "never contacted"}},
    "age": {"kind": "numeric", "dtype": "int"},
}}  # fmt: skip


def test_a_sentinel_value_is_a_flag_not_an_amount():
    features = {"numeric": [{"column": "pdays", "transform": "log1p"}, "age"]}
    raw = pd.DataFrame({"pdays": [-1, 9, -1, 99, -2], "age": [30, 40, 50, 60, 70]})
    primary, rejected, _ = validate_customers(raw, SENTINEL_SCHEMA, features, "raw.csv")
    assert rejected["reason"].tolist() == ["pdays: -2 is outside [0, inf]"]
    preprocessor = fit_preprocessor(primary, SENTINEL_SCHEMA, features)
    spec = preprocessor.spec
    assert spec.output_columns == ("pdays", "age", "pdays_-1")
    assert spec.output_titles["pdays_-1"] == "days since last contact: never contacted"
    model_input = build_model_input(primary, preprocessor)
    # fitted on the amounts alone: log1p of 9 and 99, centred and scaled to -1 and 1
    np.testing.assert_allclose(model_input["pdays"], [0.0, -1.0, 0.0, 1.0])
    assert model_input["pdays_-1"].tolist() == [1.0, 0.0, 1.0, 0.0]
    mixed = build_kprototypes_input(primary, preprocessor)
    assert mixed["pdays_-1"].tolist() == [1.0, 0.0, 1.0, 0.0]
    np.testing.assert_allclose(mixed["pdays"], model_input["pdays"])


REGION_SCHEMA = {"columns": {
    "spend": {"kind": "numeric"},
    "region": {"kind": "nominal", "label": "region",
               "codes": {"n": "north", "s": "south", "i": "islands"}},
}}  # fmt: skip


@pytest.mark.parametrize("unknown_code", ["reject", "other"])
def test_rare_and_unknown_codes_of_a_nominal_feature_score_as_other(unknown_code):
    features = {"numeric": ["spend"],
                "nominal": [{"column": "region", "min_share": 0.1, "unknown_code": unknown_code}]}
    training = pd.DataFrame({"spend": np.arange(20.0), "region": ["n"] * 10 + ["s"] * 9 + ["i"]})
    primary, _, _ = validate_customers(training, REGION_SCHEMA, features, "raw.csv")
    preprocessor = fit_preprocessor(primary, REGION_SCHEMA, features)
    assert preprocessor.spec.output_columns == (
        "spend", "region_n", "region_s", "region_i", "region_other")
    scored = pd.DataFrame({"spend": [1.0, 2.0, 3.0], "region": ["s", "i", "x"]})
    primary, rejected, _ = validate_customers(scored, REGION_SCHEMA, features, "raw.csv")
    one_hot = build_model_input(primary, preprocessor).iloc[:, 2:].to_numpy()
    if unknown_code == "reject":
        assert rejected["reason"].tolist() == ["region: code 'x' is not in the legend (n, s, i)"]
        np.testing.assert_array_equal(one_hot, [[0, 1, 0, 0], [0, 0, 0, 1]])
    else:  # the rare code and the unknown one alike
        assert rejected.empty
        np.testing.assert_array_equal(one_hot, [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
        mixed = build_kprototypes_input(primary, preprocessor)
        assert mixed["region"].tolist() == [1, 3, 3]  # other: the position after the codes
