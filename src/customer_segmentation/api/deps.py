"""Shared request dependencies: the loaded segmenter, the settings and the API key check.

All ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
per dependency per request, which cost single-customer requests more than half their speed.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from customer_segmentation.segmenter import Segmenter

from .loading import Loaded
from .settings import ServiceSettings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_settings(request: Request) -> ServiceSettings:
    """The service's settings."""
    return request.app.state.settings


async def get_loaded(request: Request) -> Loaded:
    """The loaded segmenter and its facts; 503 until one is loaded."""
    loaded = request.app.state.loaded
    if loaded is None:
        raise HTTPException(503, "No model is loaded yet.")
    return loaded


async def get_segmenter(request: Request) -> Segmenter:
    """The served segmenter; 503 until one is loaded."""
    return (await get_loaded(request)).segmenter


async def authorised(
    settings: Annotated[ServiceSettings, Depends(get_settings)],
    key: Annotated[str | None, Depends(api_key_header)],
) -> None:
    """401 unless ``X-API-Key`` equals the configured key, compared as bytes.

    The header's bytes are what the client sent (Starlette decodes headers as Latin-1); the
    configured key is compared as UTF-8, so any key, ASCII or not, works from any client.
    """
    expected = settings.api_key
    sent = key.encode("latin-1") if key else b""
    if expected and not (sent and secrets.compare_digest(sent, expected.encode("utf-8"))):
        raise HTTPException(401, "A valid X-API-Key header is required.")


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
LoadedDep = Annotated[Loaded, Depends(get_loaded)]
SegmenterDep = Annotated[Segmenter, Depends(get_segmenter)]
