"""The ``behaviour`` pipeline: a transaction log → checked lines → behaviour features → RFM.

Namespaced ``behaviour``: kedro-viz folds its nodes into one group.
"""

from kedro.pipeline import Node, Pipeline

from .. import ID_COLUMN
from .nodes import compute_behaviour, score_rfm, validate_transactions


def create_pipeline(**kwargs) -> Pipeline:
    """Create the behaviour pipeline."""
    settings = ["params:transactions", "params:raw_schema"]
    return Pipeline(
        [
            Node(
                validate_transactions,
                inputs=["transactions_raw", "customers_primary", *settings],
                outputs=["transactions_kept", "transactions_rejected",
                         "transactions_quality_summary"],
                name="validate_transactions",
            ),
            Node(
                compute_behaviour,
                inputs=["transactions_kept", "customers_primary", "params:transactions",
                        "params:behaviour", "params:raw_schema"],
                outputs="customer_behaviour",
                name="compute_behaviour",
            ),
            Node(
                score_rfm,
                inputs=["customer_behaviour", ID_COLUMN],
                outputs="rfm_segments",
                name="score_rfm",
            ),
        ],
        namespace="behaviour",
        inputs={"transactions_raw", "customers_primary"},
        outputs={"transactions_rejected", "transactions_quality_summary", "customer_behaviour",
                 "rfm_segments"},
        parameters={"params:transactions", "params:behaviour", "params:raw_schema", ID_COLUMN},
    )  # fmt: skip
