"""Request and response models, generated from ``raw_schema`` in ``conf/``.

A user's own table (another conf environment) gets its own request model without code:
every schema column becomes a field named as the raw column, typed and bounded as the
schema says (categorical columns accept exactly their legend codes). As the pipeline reads
raw rows: keys that are no column are ignored, a column that is no feature may be left out,
and a null is a "missing value".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from customer_segmentation.behaviour import POSTED, BehaviourSpec
from customer_segmentation.features import FeatureSpec
from customer_segmentation.schema import ColumnSpec, RawSchema, parse_date

PYTHON_TYPES = {"int": int, "float": float, "str": str}


def field_names(schema: RawSchema) -> dict[str, str]:
    """Raw column name to the request model's attribute (raw names need not be identifiers).

    A positional identifier is no field: a customer's identifier is its place in the request.
    """
    return {name: f"field_{index}" for index, name in enumerate(schema.raw_columns)}


TRANSACTIONS = POSTED  # a customer's transaction lines, in a request
Line = dict[str, str | int | float | None]


def customer_model(spec: FeatureSpec, behaviour: BehaviourSpec | None = None,
                   max_lines: int = 10_000) -> type[BaseModel]:  # fmt: skip
    """A pydantic model of one raw customer row: the identifier and every feature required,
    other columns optional, other keys ignored.

    With ``behaviour`` (a segmenter trained on it), a customer carries either the behaviour
    features' values or ``transactions``: their lines, as the log's columns name them (the
    customer column left out), at most ``max_lines``; ``scoring.RequestReader`` derives the
    values from them.
    """
    schema = spec.schema
    derived = set(behaviour.schema.feature_columns) if behaviour else set()
    needed = {spec.id_column, *spec.columns} - derived
    fields: dict[str, Any] = {}
    for name, attribute in field_names(schema).items():
        column = schema.columns[name]
        annotation = _annotation(column, name in spec.open_codes)
        if name in needed:
            fields[attribute] = (annotation, Field(alias=name, **_bounds(column)))
        else:
            fields[attribute] = (annotation | None,
                                 Field(None, alias=name, **_bounds(column)))  # fmt: skip
    if behaviour:
        columns = behaviour.schema.columns
        layout = ", ".join(f"{columns[role]} ({role})" for role in columns if role != "customer")
        fields[TRANSACTIONS] = (list[Line] | None, Field(
            None, max_length=max_lines,
            description=f"the customer's transaction lines, instead of the behaviour values: "
                        f"{layout}",
        ))  # fmt: skip
    config = ConfigDict(extra="ignore", populate_by_name=False, title="Customer")
    return create_model("Customer", __config__=config, **fields)


def _annotation(spec: ColumnSpec, open_codes: bool = False) -> Any:
    """The field's type, parsed as pydantic's lax mode does ("34" is 34, as in a CSV), but
    never a boolean for a number or a code, and a null named as the pipeline names it. A
    column with ``open_codes`` takes any code of its type (scored as ``other``)."""
    present = BeforeValidator(_present(spec.name))
    if spec.kind == "date":
        return Annotated[datetime, BeforeValidator(_date(spec)), present]
    if spec.codes:
        as_code = _integer_code if spec.dtype == "int" else _no_boolean
        allowed = PYTHON_TYPES[spec.dtype] if open_codes else Literal[tuple(spec.codes)]
        return Annotated[allowed, BeforeValidator(as_code), present]
    if spec.sentinels:
        return Annotated[PYTHON_TYPES[spec.dtype], AfterValidator(_within_range(spec)),
                         BeforeValidator(_no_boolean), present]  # fmt: skip
    return Annotated[PYTHON_TYPES[spec.dtype], BeforeValidator(_no_boolean), present]


def _within_range(spec: ColumnSpec) -> Any:
    """A validator of ``[min, max]`` that lets a sentinel value through, as the pipeline does."""

    def check(value: Any) -> Any:
        if value in spec.sentinels:
            return value
        if (spec.min is not None and value < spec.min) or (
                spec.max is not None and value > spec.max):  # fmt: skip
            raise PydanticCustomError(
                "out_of_range",
                f"{spec.name}: {value:g} is outside {spec.range_text}".replace("{", "{{"),
            )  # fmt: skip
        return value

    return check


def _present(name: str) -> Any:
    """A validator that refuses a null with the pipeline's reason, ``<column>: missing value``."""

    def check(value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("missing_value", f"{name}: missing value")
        return value

    return check


def _date(spec: ColumnSpec) -> Any:
    """A validator that reads a date as the pipeline does: in the column's format, within its
    bounds, refused with the pipeline's reason."""

    def parse(value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        try:
            return parse_date(value, spec).to_pydatetime()
        except ValueError as error:
            raise PydanticCustomError("date_type", str(error).replace("{", "{{")) from None

    return parse


def _integer_code(value: Any) -> Any:
    """An integer code, also from its text ("1", as a CSV has it); never from a boolean."""
    value = _no_boolean(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value  # the literal check names it
        return int(number) if number.is_integer() else value
    return value


def _no_boolean(value: Any) -> Any:
    """JSON ``true`` is no number and no code: pydantic alone would take it for 1."""
    if isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be a legend code, not a boolean")
    return value


def _bounds(spec: ColumnSpec) -> dict[str, Any]:
    title = spec.title + (f" ({spec.unit})" if spec.unit else "")
    bounds: dict[str, Any] = {"description": f"{title}: {spec.kind} column"}
    if spec.codes:
        legend = ", ".join(f"{code} = {label}" for code, label in spec.codes.items())
        bounds["description"] = f"{title}: {spec.kind}, {legend}"
    if spec.kind == "date":
        written = f"written {spec.format}" if spec.format else "ISO 8601"
        bounds["description"] = f"{title}: date, {written}"
        bounds["json_schema_extra"] = {"type": "string"}
        return bounds
    if spec.sentinels:  # a sentinel may lie outside [min, max]: checked by _within_range
        meanings = ", ".join(f"{value:g} = {label}" for value, label in spec.sentinels.items())
        bounds["description"] += f" in {spec.range_text}; or {meanings}"
        return bounds
    if spec.min is not None:
        bounds["ge"] = spec.min
    if spec.max is not None:
        bounds["le"] = spec.max
    if spec.dtype == "str" and not spec.codes:
        bounds["min_length"] = 1
    if spec.dtype == "float":
        bounds["allow_inf_nan"] = False
    return bounds


def batch_model(customer: type[BaseModel]) -> type[BaseModel]:
    """The ``POST /predict`` body: ``{"customers": [<customer>, ...]}``, and ``as_of`` where
    customers may carry transactions."""
    config = ConfigDict(extra="forbid", title="PredictRequest")
    as_of = {}
    if TRANSACTIONS in customer.model_fields:
        as_of["as_of"] = (date | None, Field(
            None, description="the day the customers' transactions are described at; "
                              "default: the day after the newest line posted"))  # fmt: skip
    return create_model(
        "PredictRequest", __config__=config,
        customers=(list[customer], Field(min_length=1, description="customers to score")),
        **as_of,
    )  # fmt: skip


class Prediction(BaseModel):
    """One customer's segment, in the order the customers were posted."""

    model_config = ConfigDict(extra="allow")
    segment: int
    segment_name: str


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class PcaPoint(BaseModel):
    model_config = ConfigDict(extra="allow")
    pc1: float
    pc2: float
    segment: int


class PcaResponse(BaseModel):
    explained_variance_ratio: list[float]
    points: list[PcaPoint]


class Problem(BaseModel):
    """One thing wrong with a request: which record and field, and what."""

    record: int | None = Field(None, description="index of the customer (or CSV data row)")
    field: str | None = Field(None, description="raw column name, or the request part")
    message: str
    type: str | None = None


class Problems(BaseModel):
    """The 422 answer: every problem found."""

    detail: list[Problem]


class Message(BaseModel):
    """The 401, 413 and 503 answers."""

    detail: str
