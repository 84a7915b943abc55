"""The ``behaviour`` pipeline: a transaction log → checked lines → behaviour features → RFM.

With a customer table (``segment_on: both``) it also joins each customer's behaviour to the
table, which ``data_processing`` then checks; without one (``segment_on: behaviour``) the
behaviour table is the customer table. Namespaced ``behaviour``: kedro-viz folds its nodes
into one group.
"""

import importlib
from types import SimpleNamespace

from kedro.pipeline import Node, Pipeline

from .. import ID_COLUMN
from .nodes import behaviour_settings

CHECKED = ["transactions_kept", "transactions_rejected", "transactions_quality_summary"]
LIMIT = "params:transactions.max_rejected_share"
RFM_ON_SPARK = "rfm_segments@spark"  # the report reads rfm_segments@pandas: one file
NODES = ("customer_identifiers", "validate_transactions", "validate_log", "log_customers",
         "compute_behaviour", "score_rfm", "join_customer_behaviour")  # fmt: skip


def create_pipeline(segment_on: str = "both", engine: str = "pandas", **kwargs) -> Pipeline:
    """Create the behaviour pipeline.

    Args:
        segment_on: ``both`` (a customer table and its log) or ``behaviour`` (a log alone).
        engine: ``pandas``, or ``spark``: the log and the tables are Spark DataFrames.
    """
    nodes, on_spark = _nodes(engine), ["params:on_spark"] if engine == "spark" else []
    settings = Node(behaviour_settings,
                    ["params:transactions", "params:behaviour", "params:raw_schema"],
                    "behaviour_spec", name="behaviour_settings")  # fmt: skip
    if segment_on == "behaviour":
        customers = Pipeline([
            Node(nodes.validate_log, ["transactions_raw", "behaviour_spec", LIMIT], CHECKED,
                 name="validate_transactions"),
            Node(nodes.log_customers, ["transactions_kept", ID_COLUMN], "behaviour_customers",
                 name="log_customers"),
        ])  # fmt: skip
        joined: list[Node] = []
    else:
        customers = Pipeline([
            Node(nodes.customer_identifiers,
                 ["customers_raw", "params:raw_schema", "params:features", "params:raw_data_path",
                  "behaviour_spec"], "behaviour_customers", name="customer_identifiers"),
            Node(nodes.validate_transactions,
                 ["transactions_raw", "behaviour_customers", "behaviour_spec", LIMIT], CHECKED,
                 name="validate_transactions"),
        ])  # fmt: skip
        joined = [Node(nodes.join_customer_behaviour,
                       ["customers_raw", "customer_behaviour", ID_COLUMN, "behaviour_spec"],
                       "customers_with_behaviour", name="join_customer_behaviour")]  # fmt: skip
    described = Pipeline([
        Node(nodes.compute_behaviour, ["transactions_kept", "behaviour_customers",
                                       "behaviour_spec", "params:behaviour.as_of", *on_spark],
             "customer_behaviour", name="compute_behaviour"),
        Node(nodes.score_rfm, ["customer_behaviour", ID_COLUMN], "rfm_segments", name="score_rfm"),
        *joined,
    ])  # fmt: skip
    outputs = {"behaviour_spec", "transactions_rejected", "transactions_quality_summary",
               "customer_behaviour", "rfm_segments"}  # fmt: skip
    if joined:
        outputs.add("customers_with_behaviour")
    nodes = Pipeline([settings]) + customers + described
    pipeline = Pipeline(
        nodes,
        namespace="behaviour",
        inputs={"transactions_raw"} | ({"customers_raw"} if joined else set()),
        outputs=outputs,
        parameters={name for name in nodes.inputs() if name.startswith("params:")},
    )  # fmt: skip
    if engine != "spark":
        return pipeline
    return Pipeline(pipeline, outputs={"rfm_segments": RFM_ON_SPARK})  # read by the report


def _nodes(engine: str) -> SimpleNamespace:
    """The node functions of ``engine`` by their pandas names: ``nodes.X``, or its Spark twin
    ``spark_nodes.X_on_spark``."""
    spark = engine == "spark"
    module = importlib.import_module(".spark_nodes" if spark else ".nodes", __package__)
    return SimpleNamespace(**{name: getattr(module, name + ("_on_spark" if spark else ""))
                              for name in NODES})  # fmt: skip
