"""Kedro's ``OmegaConfigLoader`` with the defaults every node may rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import DictConfig, OmegaConf

from customer_segmentation.behaviour import TransactionSchema
from customer_segmentation.schema import ROW_INDEX, RawSchema

# What a run segments on (`segment_on`, docs/behaviour.md): the customer table alone, the
# behaviour derived from a transaction log alone, or both joined by the customer identifier.
SEGMENT_ON = ("customers", "behaviour", "both")


class ProjectConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` that completes ``raw_schema`` and merges ``--params`` last.

    - A table without an identifier leaves ``raw_schema.id_column`` out (or sets it to
      null); nodes still take the identifier's name as ``params:raw_schema.id_column``, so
      it is set here to ``ROW_INDEX``, the name of each row's 0-based position.
    - A run that segments on behaviour (``segment_on: behaviour`` or ``both``) has the
      entries of ``behaviour.features`` added to ``features``, and the columns they name to
      ``raw_schema.columns`` (with their kinds, bounds and labels, unless declared there):
      the joined table is checked, transformed, described and served like any other. On
      behaviour alone, the customer table's columns and features are left out, but for the
      identifier and the log's customer attributes (``transactions.attributes``).
    - Kedro 1.7 merges runtime parameters into the base and the run environment's
      parameters separately, then lets the environment's top-level keys replace the base's:
      ``kedro run --env=X --params=kmeans.k=4`` left ``kmeans`` with ``k`` alone whenever
      ``conf/X`` has parameters. Here they are merged once, key by key, over both.
    """

    def __getitem__(self, key: str) -> dict[str, Any]:
        config = super().__getitem__(key)
        if key != "parameters":
            return config
        if self.runtime_params:
            config = OmegaConf.to_container(OmegaConf.merge(config, self.runtime_params))
        raw_schema = config.get("raw_schema")
        if isinstance(raw_schema, dict) and raw_schema.get("id_column") is None:
            raw_schema["id_column"] = ROW_INDEX
        segment_on = config.setdefault("segment_on", "customers")
        if segment_on not in SEGMENT_ON:
            raise ValueError(f"segment_on must be one of {', '.join(SEGMENT_ON)}, "
                             f"got {segment_on!r}")  # fmt: skip
        if segment_on != "customers" and isinstance(raw_schema, dict):
            _add_behaviour(config, alone=segment_on == "behaviour")
        return config

    def _merge_and_resolve(self, key: str, config_per_file: dict[Path, DictConfig]) -> dict:
        if key != "parameters" or not config_per_file:
            return super()._merge_and_resolve(key, config_per_file)
        merged = OmegaConf.unsafe_merge(*config_per_file.values())  # --params: in __getitem__
        return OmegaConf.to_container(merged, resolve=True)


FEATURE_LISTS = ("numeric", "ordinal", "binary", "nominal")


def _add_behaviour(config: dict[str, Any], alone: bool) -> None:
    """Segment on the behaviour features ``behaviour.features`` names (with the customer
    table's features, or ``alone``)."""
    raw_schema, features = config["raw_schema"], config.setdefault("features", {})
    id_column = raw_schema["id_column"]
    if id_column == ROW_INDEX:
        raise ValueError(
            "segment_on: behaviour or both needs raw_schema.id_column: the column that names "
            "the customer, which the transaction log's `transactions.columns.customer` holds."
        )
    dtype = RawSchema.from_params(raw_schema).columns[id_column].dtype
    available = TransactionSchema.from_params(config.get("transactions") or {}, dtype).raw_columns()
    chosen = (config.get("behaviour") or {}).get("features") or {}
    derived = chosen.get("derived") or {}
    named = [_column(entry) for kind in FEATURE_LISTS for entry in chosen.get(kind) or []]
    named = [name for name in named if name not in derived] + [
        operand for derivation in derived.values() for key, operands in derivation.items()
        if key != "label" for operand in ([operands] if isinstance(operands, str) else operands)
    ]  # fmt: skip
    unknown = [name for name in named if name not in available]
    if unknown or not named:
        raise ValueError(
            f"behaviour.features must name behaviour features; "
            f"{'unknown: ' + str(unknown) if unknown else 'it names none'}. This log has "
            f"{', '.join(available)} (docs/behaviour.md)."
        )
    if alone:  # the log's customers: their identifier and attributes (a country)
        kept = {id_column, *((config.get("transactions") or {}).get("attributes") or [])}
        raw_schema["columns"] = {name: column for name, column in raw_schema["columns"].items()
                                 if name in kept}  # fmt: skip
        for kind in FEATURE_LISTS:
            features[kind] = [entry for entry in features.get(kind) or [] if _column(entry) in kept]
        features["derived"] = {}
    for kind in FEATURE_LISTS:
        features[kind] = [*(features.get(kind) or []), *(chosen.get(kind) or [])]
    features["derived"] = {**(features.get("derived") or {}), **derived}
    for name in named:
        raw_schema["columns"].setdefault(name, available[name])


def _column(entry: str | dict[str, Any]) -> str:
    """The column of a ``features`` entry: a name, or ``{column: name, ...}``."""
    return entry["column"] if isinstance(entry, dict) else entry
