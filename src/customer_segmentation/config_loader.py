"""Kedro's ``OmegaConfigLoader`` with the defaults every node may rely on."""

from __future__ import annotations

from typing import Any

from kedro.config import OmegaConfigLoader

from customer_segmentation.schema import ROW_INDEX


class ProjectConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` that completes ``raw_schema`` with its optional keys.

    A table without an identifier leaves ``raw_schema.id_column`` out (or sets it to null);
    nodes still take the identifier's name as ``params:raw_schema.id_column``, so it is set
    here to ``ROW_INDEX``, the name of each row's 0-based position (``schema.RawSchema``).
    """

    def __getitem__(self, key: str) -> dict[str, Any]:
        config = super().__getitem__(key)
        raw_schema = config.get("raw_schema") if key == "parameters" else None
        if isinstance(raw_schema, dict) and raw_schema.get("id_column") is None:
            raw_schema["id_column"] = ROW_INDEX
        return config
