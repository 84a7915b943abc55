"""The FastAPI app factory: ``uvicorn customer_segmentation.api:create_app --factory``.

The configuration is read once, at creation: the request models come from its raw schema
and the catalog gives the ``segmenter``, loaded when the app starts (``lifespan``) and kept
on ``app.state``. Settings: ``settings.ServiceSettings`` (``CUSTOMER_SEGMENTATION_*``).
"""

from __future__ import annotations

import codecs
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from kedro.io import DatasetError

from .deps import authorised
from .loading import ModelMismatchError, load_segmenter, read_config
from .routes import docs, model, predict, probes
from .schemas import Message, Problems, batch_model, customer_model
from .scoring import RequestReader
from .settings import ServiceSettings

logger = logging.getLogger(__name__)


def create_app(project_path: str | Path | None = None, env: str | None = None,
               **overrides: Any) -> FastAPI:  # fmt: skip
    """Build the service for a Kedro project; its segmenter loads when the app starts.

    Args:
        project_path: The project whose ``segmenter`` is served (default: the settings).
        env: Kedro configuration environment (default: the settings).
        **overrides: Other ``ServiceSettings`` fields.

    Returns:
        The FastAPI application.
    """
    given = {"project": project_path, "env": env, **overrides}
    settings = ServiceSettings(**{key: value for key, value in given.items() if value is not None})
    config = read_config(settings.project, settings.env)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            app.state.loaded = load_segmenter(config)
        except DatasetError as error:  # nothing trained yet: stay up, answer 503
            logger.error("No model to serve in %s (run `make run` first): %s",
                         settings.project, error)  # fmt: skip
        except ModelMismatchError as error:
            logger.error("Not serving: %s", error)
        # The first upload would otherwise start the worker thread and import what it
        # needs on the event loop: /health stalled about 100 ms then. Done here, before ready.
        await run_in_threadpool(codecs.lookup, "utf-8-sig")
        gc.collect()
        gc.freeze()  # start-up's objects leave the collector's view: no 300 ms pauses later
        yield
        app.state.loaded = None

    errors: dict[int | str, dict[str, Any]] = {
        422: {"model": Problems, "description": "invalid input: each problem, its record, field"},
        503: {"model": Message, "description": "no model is loaded yet"},
    }
    if settings.api_key:
        errors[401] = {"model": Message, "description": "missing or wrong X-API-Key"}
    docs_open = settings.open_docs or not settings.api_key
    app = FastAPI(
        responses=errors,
        title="customer-segmentation",
        summary="Scores customers into the segments of the last `kedro run`.",
        version="0.1.0",
        lifespan=lifespan,
        **({} if docs_open else {"openapi_url": None, "docs_url": None, "redoc_url": None}),
    )
    app.state.settings, app.state.loaded = settings, None
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:  # what the API's own requests need, for a browser's preflight
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key"],
        )  # fmt: skip
    app.add_exception_handler(RequestValidationError, _invalid_request)

    protected = [Depends(authorised)] if settings.api_key else []  # the spec says so too
    request_model = batch_model(customer_model(config.spec, config.behaviour,
                                                settings.max_lines))  # fmt: skip
    if not docs_open:
        app.include_router(docs.create_router(app), dependencies=protected)
    app.include_router(probes.router)
    app.include_router(model.router, dependencies=protected)
    scoring = predict.create_router(
        request_model, RequestReader(config.spec, config.behaviour), settings.max_batch,
        config.csv_format,
    )
    app.include_router(scoring, dependencies=protected)
    return app


async def _invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each bad field and the index of its record."""
    problems = []
    for issue in error.errors():
        location = [part for part in issue["loc"] if part != "body"]
        record = location[1] if len(location) > 1 and location[0] == "customers" else None
        field = location[2] if record is not None and len(location) > 2 else None
        problems.append({
            "record": record if isinstance(record, int) else None,
            "field": field if field is not None else ".".join(map(str, location)) or None,
            "message": issue["msg"],
            "type": issue["type"],
        })  # fmt: skip
    return JSONResponse({"detail": problems}, status_code=422)


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes``, declared or streamed.

    The body is read up to the limit before the app sees it, then replayed: a body that
    grows past the limit is refused here with 413, before any parsing (a limit raised inside
    the app's own body parsing would come out as FastAPI's 400), and a JSON body that is not
    UTF-8 with 422, as any other body that is not JSON.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return await self.app(scope, _replay([message]), send)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._too_large(send)
            more = message.get("more_body", False)
        content = b"".join(chunks)
        if _declares_json(scope) and not _is_utf8(content):  # FastAPI would answer 400
            problem = {"record": None, "field": None, "type": "json_invalid",
                       "message": "The request body is not valid UTF-8 JSON."}  # fmt: skip
            return await _send(send, JSONResponse({"detail": [problem]}, status_code=422))
        body = {"type": "http.request", "body": content, "more_body": False}
        await self.app(scope, _replay([body], then=receive), send)

    async def _too_large(self, send: Any) -> None:
        message = f"The request body is larger than {self.max_bytes} bytes."
        await _send(send, JSONResponse({"detail": message}, status_code=413))


async def _send(send: Any, response: JSONResponse) -> None:
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": response.raw_headers})  # fmt: skip
    await send({"type": "http.response.body", "body": response.body})


def _declares_json(scope: dict) -> bool:
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    return content_type.split(b";")[0].strip().lower() == b"application/json"


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _replay(messages: list[dict], then: Any = None) -> Any:
    """An ASGI ``receive`` that returns ``messages``, then defers to ``then``."""
    pending = list(messages)

    async def receive() -> dict:
        if pending:
            return pending.pop(0)
        return await then() if then else {"type": "http.disconnect"}

    return receive
