"""The service's settings: one ``pydantic-settings`` class, from ``CUSTOMER_SEGMENTATION_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "CUSTOMER_SEGMENTATION_"


class ServiceSettings(BaseSettings):
    """How the service runs. Each field is also an environment variable with the prefix
    ``CUSTOMER_SEGMENTATION_`` (``CUSTOMER_SEGMENTATION_MAX_BATCH=500``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    project: Path = Field(
        default_factory=Path.cwd, description="Kedro project whose `segmenter` is served"
    )
    env: str | None = Field(
        None,
        validation_alias=AliasChoices(f"{ENV_PREFIX}ENV", "KEDRO_ENV", "env"),
        description="Kedro configuration environment (else $KEDRO_ENV, else `local`)",
    )
    max_batch: int = Field(10_000, ge=1, description="most customers in one request")
    max_lines: int = Field(
        10_000, ge=1, description="most transaction lines of one customer in a request"
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1, description="largest request body (10,000 customers take ~1.3 MB)"
    )
    csv_seconds: float = Field(
        10.0, gt=0, description="most time to read and score one CSV upload (else 413)"
    )
    open_docs: bool = Field(
        True, description="with an API key: whether /docs, /redoc and /openapi.json stay open"
    )
    api_key: str | None = Field(
        None, description="when set, every endpoint but the probes needs `X-API-Key`"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="allowed origins, comma-separated (empty: CORS off)"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("api_key", "env", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return value or None
