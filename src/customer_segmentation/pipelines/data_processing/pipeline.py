"""The ``data_processing`` pipeline: raw → validated primary customers + rejected rows."""

from kedro.pipeline import Node, Pipeline

from .nodes import data_quality_metrics, enforce_rejected_share, validate_customers


def create_pipeline(engine: str = "pandas", behaviour: bool = False, **kwargs) -> Pipeline:
    """Create the data processing pipeline.

    Args:
        engine: ``pandas``, or ``spark``: the table is a Spark DataFrame, checked on Spark.
        behaviour: The run segments on behaviour: the table is the one the ``behaviour``
            pipeline wrote, its behaviour columns derived as ``behaviour_spec`` says.
    """
    if engine == "spark":
        from .spark_nodes import validate_customers_on_spark as validate
    else:
        validate = validate_customers
    return Pipeline(
        [
            Node(
                validate,
                inputs=[
                    "customers_raw",
                    "params:raw_schema",
                    "params:features",
                    "params:raw_data_path",
                    *(["behaviour_spec"] if behaviour else []),
                ],
                outputs=["customers_validated", "customers_rejected", "data_quality_summary"],
                name="validate_customers",
            ),
            Node(
                enforce_rejected_share,
                inputs=[
                    "customers_validated",
                    "data_quality_summary",
                    "params:data_quality.max_rejected_share",
                ],
                outputs="customers_primary",
                name="enforce_rejected_share",
            ),
            Node(
                data_quality_metrics,
                inputs="data_quality_summary",
                outputs="data_quality_metrics",
                name="data_quality_metrics",
            ),
        ]
    )
