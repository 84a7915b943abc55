"""Kedro's ``OmegaConfigLoader`` with the defaults every node may rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import DictConfig, OmegaConf

from customer_segmentation.schema import ROW_INDEX


class ProjectConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` that completes ``raw_schema`` and merges ``--params`` last.

    - A table without an identifier leaves ``raw_schema.id_column`` out (or sets it to
      null); nodes still take the identifier's name as ``params:raw_schema.id_column``, so
      it is set here to ``ROW_INDEX``, the name of each row's 0-based position.
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
        return config

    def _merge_and_resolve(self, key: str, config_per_file: dict[Path, DictConfig]) -> dict:
        if key != "parameters" or not config_per_file:
            return super()._merge_and_resolve(key, config_per_file)
        merged = OmegaConf.unsafe_merge(*config_per_file.values())  # --params: in __getitem__
        return OmegaConf.to_container(merged, resolve=True)
