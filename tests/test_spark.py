"""The Spark engine against the pandas path: the same rejects and reasons, features, K-Means
and segments (issue 14's acceptance), and the pandas ↔ Spark conversions the project uses.

One ``local[2]`` session serves every test of this file (``--dist loadfile`` keeps it on one
worker). Skipped where there is no Java or no pyspark (``make install`` brings pyspark).
"""

from __future__ import annotations

import functools
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from customer_segmentation.data_generator import generate_customers
from customer_segmentation.datasets import read_text_csv
from customer_segmentation.features import FeatureSpec, fit_features
from customer_segmentation.pipelines.data_processing.nodes import ContentHash
from customer_segmentation.segments import nearest, segment_order
from customer_segmentation.validation import split_rows

from .conftest import PROJECT_ROOT, PUBLIC_DATA, fit_segmenter, project_parameters

pytestmark = pytest.mark.slow
pyspark = pytest.importorskip("pyspark", reason="pyspark is installed by make install")
if shutil.which("java") is None:
    pytest.skip("no Java: Spark needs Java 17 (make test installs it where apt may run)",
                allow_module_level=True)  # fmt: skip

from customer_segmentation import spark as on_spark  # noqa: E402 (after the skips)

# Each table the parity is checked on: its conf environment, file and CSV options.
TABLES = {
    "embedded": (None, PROJECT_ROOT / "data/01_raw/customers.csv", {}),
    "credit_card": ("credit_card", PUBLIC_DATA / "credit_card_customers.csv", {}),
    "bank_marketing": ("bank_marketing", PUBLIC_DATA / "bank_marketing.csv", {"sep": ";"}),
}


def hostile(table: pd.DataFrame, spec: FeatureSpec, seed: int = 0) -> pd.DataFrame:
    """``table`` (as text) with every row rule broken somewhere, and IDs that repeat."""
    rng = np.random.default_rng(seed)
    table = table.astype("str").copy()
    rows = rng.choice(len(table), size=min(len(table), 12 * 8), replace=False).reshape(-1, 8)
    numeric = [name for name in spec.numeric if name in table.columns] or list(table.columns[1:])
    column = numeric[0]
    for i, (r1, r2, r3, r4, r5, r6, r7, r8) in enumerate(rows):
        table.loc[r1, column] = None  # missing
        table.loc[r2, column] = ["abc", "inf", "1_000", " ", "NA", "n/a"][i % 6]  # wrong type
        table.loc[r3, column] = "-1e300"  # out of range (or outside a transform's domain)
        if spec.categorical and spec.categorical[0] in table.columns:
            table.loc[r7, spec.categorical[0]] = "999"  # a code outside the legend
        if spec.schema.positional_id:  # the row's place is its ID
            continue
        table.loc[r4, spec.id_column] = table.loc[r5, spec.id_column]  # a repeated ID
        table.loc[r6, spec.id_column] = ["99999999999999999999", "1.5", "x"][i % 3]
        table.loc[r8, spec.id_column] = table.loc[r8, spec.id_column] + ".0"  # same ID, as float
    return table


def pandas_and_spark(spark, table: pd.DataFrame, spec: FeatureSpec, path, sep: str = ","):
    """The pandas split and the Spark split of ``table`` written to the CSV file ``path``."""
    table.to_csv(path, index=False, sep=sep)
    pandas_split = split_rows(read_text_csv(path, {"sep": sep}), spec, str(path))
    raw = spark.read.csv(str(path), header=True, sep=sep, inferSchema=False)
    return pandas_split, on_spark.split_on_spark(raw, spec, str(path))


@pytest.fixture(scope="module")
def hostile_split(spark, tmp_path_factory):
    """A table of ``TABLES`` by name, ``hostile``, split by each engine once for the tests
    that compare them: its spec, file, the pandas split and the Spark split."""

    @functools.cache
    def split(name: str):
        env, path, options = TABLES[name]
        parameters = project_parameters(env)
        spec = FeatureSpec.from_params(parameters["raw_schema"], parameters["features"])
        hostile_path = tmp_path_factory.mktemp(name) / "customers.csv"
        expected, found = pandas_and_spark(spark, hostile(read_text_csv(path, options), spec),
                                           spec, hostile_path, options.get("sep", ","))  # fmt: skip
        return spec, hostile_path, expected, found

    return split


@pytest.mark.parametrize("name", TABLES)
def test_spark_rejects_the_rows_pandas_rejects_for_the_same_reasons(hostile_split, name):
    spec, path, expected, found = hostile_split(name)
    rejected = found.rejected.toPandas().sort_values("raw_row").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        rejected[["raw_row", "reason"]], expected.rejected[["raw_row", "reason"]],
        check_dtype=False,
    )  # fmt: skip
    assert len(expected.rejected) >= 40
    digest = ContentHash()  # the pandas path's content hash of the file
    digest.update(read_text_csv(path, TABLES[name][2]))
    assert found.summary == expected.summary | {"raw_data_sha256": digest.hexdigest()}
    valid = found.valid.toPandas().sort_values(spec.id_column).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        valid, expected.valid.sort_values(spec.id_column).reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory):
    """200,000 generated customers with hostile rows: the pandas split and the Spark one."""
    parameters = project_parameters()
    spec = FeatureSpec.from_params(parameters["raw_schema"], parameters["features"])
    table = hostile(generate_customers(200_000, seed=11), spec, seed=1)
    path = tmp_path_factory.mktemp("generated") / "customers.csv"
    pandas_split, spark_split = pandas_and_spark(spark, table, spec, path)
    return spec, pandas_split, spark_split


def test_a_generated_table_is_split_alike(generated):
    spec, expected, found = generated
    rejected = found.rejected.toPandas().sort_values("raw_row").reset_index(drop=True)
    assert rejected["reason"].tolist() == expected.rejected["reason"].tolist()
    assert rejected["raw_row"].tolist() == expected.rejected["raw_row"].tolist()
    assert found.summary["rows_primary"] == expected.summary["rows_primary"] > 199_000
    assert found.summary["violations"] == expected.summary["violations"]


@pytest.mark.parametrize("name", [*TABLES, "generated"])
def test_features_fitted_on_spark_agree_to_1e_9(hostile_split, name, generated):
    """Fitted on the rows each engine keeps of a hostile table."""
    if name == "generated":
        spec, expected, found = generated
    else:
        spec, _, expected, found = hostile_split(name)
    pandas_fit = fit_features(expected.valid, spec)
    spark_fit = on_spark.fit_features_on_spark(found.valid, spec)
    np.testing.assert_allclose(spark_fit.centres, pandas_fit.centres, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(spark_fit.scales, pandas_fit.scales, rtol=1e-9)
    assert spark_fit.rare_codes == pandas_fit.rare_codes
    assert spark_fit.as_of == pandas_fit.as_of
    if pandas_fit.clip_bounds is not None:
        np.testing.assert_allclose(spark_fit.clip_bounds, pandas_fit.clip_bounds, rtol=1e-9)
    model_input = on_spark.model_input_on_spark(found.valid, spark_fit).toPandas()
    expected_input = pandas_fit.frame(expected.valid)
    model_input = model_input.set_index(spec.id_column).loc[expected_input[spec.id_column]]
    np.testing.assert_allclose(model_input.to_numpy(),
                               expected_input.drop(columns=spec.id_column).to_numpy(),
                               rtol=1e-9, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize(("table", "k"), [("embedded", 4), ("generated", 5)])
def test_kmeans_on_spark_matches_scikit_learn(spark, generated, table, k, tmp_path):
    """Inertia within 1 % of scikit-learn's at the same k, segments with ARI >= 0.95: the
    fits four at a time, as conf/base does (on the small table, the same as one at a time)."""
    if table == "generated":
        spec, expected, _ = generated
        valid = expected.valid
    else:
        spec = generated[0]
        valid = split_rows(read_text_csv(TABLES[table][1], {}), spec, "embedded").valid
    inputs = fit_features(valid, spec).frame(valid)
    inputs.to_parquet(tmp_path / "model_input.parquet")
    vectors = on_spark.feature_vectors(spark.read.parquet(str(tmp_path / "model_input.parquet")),
                                       spec.id_column).cache()  # fmt: skip
    points = inputs.drop(columns=spec.id_column).to_numpy()
    settings = {"random_state": 42, "max_iter": 300}
    fitted = on_spark.fit_kmeans(vectors, k, settings, n_init=4, parallelism=4)
    if table == "embedded":  # the fits at once give what they give one after another
        serial = on_spark.fit_kmeans(vectors, k, settings, n_init=4)
        np.testing.assert_array_equal(fitted.cluster_centers_, serial.cluster_centers_)
        assert (fitted.inertia_, fitted.sizes) == (serial.inertia_, serial.sizes)
    reference = KMeans(k, n_init=10, random_state=42).fit(points)
    assert fitted.inertia_ == pytest.approx(reference.inertia_, rel=0.01)
    labels = nearest(points, fitted.cluster_centers_)
    assert adjusted_rand_score(reference.labels_, labels) >= 0.95
    assert list(fitted.sizes) == np.bincount(labels, minlength=k).tolist()
    assert (segment_order(labels, fitted.cluster_centers_) == np.arange(k)).all()


def test_scoring_on_spark_gives_the_segmenters_segments(spark, generated):
    spec, expected, found = generated
    segmenter = fit_segmenter(expected.valid.head(2000), spec)
    scored = on_spark.assign_segments_on_spark(found.valid, segmenter).toPandas()
    reference = segmenter.assign(expected.valid)
    scored = scored.set_index(spec.id_column).loc[reference[spec.id_column]].reset_index()
    pd.testing.assert_frame_equal(scored, reference, check_dtype=False)


def test_pandas_and_spark_convert_the_project_s_frames_both_ways(spark):
    """createDataFrame, toPandas and mapInPandas under the locked pandas, Arrow on and off.

    With Arrow (spark.yml turns it on) every dtype the project writes goes both ways. Without
    it, pandas 3 meets pyspark's row-by-row conversion: a nullable integer column (``Int8``)
    is refused and missing text comes back as the text ``"nan"`` (docs/spark.md).
    ``mapInPandas`` always goes through Arrow.
    """
    frame = pd.DataFrame({
        "id": pd.array([1, 2**62, 3], dtype="int64"), "text": ["a", None, "ü"],
        "code": pd.array([1, None, 3], dtype="Int8"), "amount": [1.5, np.nan, -0.0],
        "day": pd.to_datetime(["2024-01-01", None, "1999-12-31"]).astype("datetime64[us]"),
    })  # fmt: skip
    schema = "id bigint, text string, code tinyint, amount double, day timestamp_ntz"
    back = spark.createDataFrame(frame, schema).toPandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    mapped = on_spark.map_batches(spark.createDataFrame(frame, schema),
                                  lambda batch: batch.assign(id=batch["id"] + 1), schema)
    assert mapped.toPandas()["id"].tolist() == [2, 2**62 + 1, 4]
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "false")
    try:
        with pytest.raises(TypeError, match="ByteType"):
            spark.createDataFrame(frame, schema).collect()
        plain = frame.drop(columns="code")
        back = spark.createDataFrame(plain, schema.replace(" code tinyint,", "")).toPandas()
        assert back["id"].tolist() == plain["id"].tolist()
        assert back["day"].iloc[[0, 2]].tolist() == plain["day"].iloc[[0, 2]].tolist()
        assert back["text"].tolist() == ["a", "nan", "ü"]
        assert mapped.toPandas()["id"].tolist() == [2, 2**62 + 1, 4]
    finally:
        spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
