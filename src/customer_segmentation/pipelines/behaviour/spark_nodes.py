"""The Spark twins of the behaviour nodes: the same checks, features and RFM on Spark tables."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 (pyspark's own convention)

from customer_segmentation.behaviour import BehaviourSpec
from customer_segmentation.features import FeatureSpec
from customer_segmentation.spark_behaviour import (
    CUSTOMER,
    behaviour_on_spark,
    check_lines_on_spark,
    distinct_customers,
    join_behaviour_on_spark,
    rfm_on_spark,
    typed_customers,
)
from customer_segmentation.validation import check_columns, no_rows

from .nodes import lines_summary


def customer_identifiers_on_spark(
    customers_raw: DataFrame, raw_schema: dict[str, Any], features: dict[str, Any],
    raw_data_path: str, behaviour_spec: BehaviourSpec,
) -> DataFrame:  # fmt: skip
    """``customer_identifiers`` on Spark: the distinct identifiers of the customer table that
    parse.

    Raises:
        RawDataError: The table lacks a column of ``raw_schema``, or has no rows.
    """
    spec = FeatureSpec.from_params(raw_schema, features)
    check_columns(pd.DataFrame(columns=customers_raw.columns), spec, raw_data_path,
                  joined=behaviour_spec.schema.feature_columns)  # fmt: skip
    if customers_raw.isEmpty():
        raise no_rows(raw_data_path)
    typed = typed_customers(customers_raw, spec.id_column, behaviour_spec.schema.customer_dtype)
    return distinct_customers(typed, spec.id_column)


def validate_transactions_on_spark(
    transactions_raw: DataFrame, behaviour_customers: DataFrame | None,
    behaviour_spec: BehaviourSpec, max_rejected_share: float,
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:  # fmt: skip
    """``validate_transactions`` on Spark: the kept lines, the rejected ones with their
    reasons, and the same summary.

    Raises:
        RejectedLinesError: The rejected share is above ``transactions.max_rejected_share``.
    """
    checked = check_lines_on_spark(transactions_raw, behaviour_spec.schema, behaviour_customers)
    summary = lines_summary(checked.lines, checked.rejected_lines, checked.counts,
                            max_rejected_share)  # fmt: skip
    return checked.kept, checked.rejected, summary


def validate_log_on_spark(
    transactions_raw: DataFrame, behaviour_spec: BehaviourSpec, max_rejected_share: float
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """``validate_log`` on Spark: a log without a customer table."""
    return validate_transactions_on_spark(transactions_raw, None, behaviour_spec,
                                          max_rejected_share)  # fmt: skip


def log_customers_on_spark(transactions_kept: DataFrame, id_column: str) -> DataFrame:
    """``log_customers`` on Spark: each customer with a kept line."""
    return transactions_kept.select(F.col(CUSTOMER).alias(id_column)).distinct()


def compute_behaviour_on_spark(
    transactions_kept: DataFrame, behaviour_customers: DataFrame,
    behaviour_spec: BehaviourSpec, as_of: Any, on_spark: dict[str, Any],
) -> DataFrame:  # fmt: skip
    """``compute_behaviour`` on Spark: each customer's behaviour features, the identifier
    first, computed in groups of about ``on_spark.lines_per_group`` lines."""
    customers = behaviour_customers
    if behaviour_spec.schema.unknown_customer == "keep":  # the log's others too
        customers = customers.unionByName(
            log_customers_on_spark(transactions_kept, customers.columns[0])).distinct()
    return behaviour_on_spark(transactions_kept, customers, behaviour_spec.schema, as_of,
                              behaviour_spec.window_days,
                              on_spark["lines_per_group"]).features  # fmt: skip


def score_rfm_on_spark(customer_behaviour: DataFrame, id_column: str) -> DataFrame:
    """``score_rfm`` on Spark: R, F and M scores and the named RFM segment of each customer."""
    return rfm_on_spark(customer_behaviour, id_column)


def join_customer_behaviour_on_spark(
    customers_raw: DataFrame, customer_behaviour: DataFrame, id_column: str,
    behaviour_spec: BehaviourSpec,
) -> DataFrame:  # fmt: skip
    """``join_customer_behaviour`` on Spark: the customer table, in its order, with each
    customer's behaviour features; ``data_processing`` checks it."""
    schema = behaviour_spec.schema
    typed = typed_customers(customers_raw, id_column, schema.customer_dtype)
    return join_behaviour_on_spark(typed, customer_behaviour, id_column, schema.feature_columns)
