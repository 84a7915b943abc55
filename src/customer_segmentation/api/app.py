"""The FastAPI app factory: ``uvicorn customer_segmentation.api:create_app --factory``.

Settings come from arguments or environment variables:

| variable | default | meaning |
|---|---|---|
| ``CUSTOMER_SEGMENTATION_PROJECT`` | the working directory | Kedro project whose outputs are served |
| ``CUSTOMER_SEGMENTATION_ENV`` | ``$KEDRO_ENV``, else ``local`` | Kedro configuration environment |
| ``CUSTOMER_SEGMENTATION_MAX_BATCH`` | 10000 | most customers in one request |
| ``CUSTOMER_SEGMENTATION_MAX_BODY_BYTES`` | 16777216 | largest request body |
| ``CUSTOMER_SEGMENTATION_API_KEY`` | unset | when set, every endpoint but the probes needs ``X-API-Key`` |
| ``CUSTOMER_SEGMENTATION_CORS_ORIGINS`` | unset (CORS off) | comma-separated allowed origins |
"""  # noqa: E501

import io
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from kedro.framework.project import settings as kedro_settings
from kedro.framework.startup import bootstrap_project
from kedro.io import DatasetError

from customer_segmentation.schema import RawSchema, cast_valid_rows, check_rows

from .artifacts import Served, load_served
from .schemas import Message, PcaResponse, PredictResponse, Problems, batch_model, customer_model

logger = logging.getLogger(__name__)
ENV_PREFIX = "CUSTOMER_SEGMENTATION_"
CSV_UPLOAD = File(..., description="raw customers, CSV with the raw schema's columns")


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs; see the module docstring for the environment variables."""

    project_path: Path
    env: str | None = None
    max_batch: int = 10_000
    max_body_bytes: int = 16 * 1024 * 1024
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, **overrides: Any) -> "ServiceSettings":
        """Settings from ``CUSTOMER_SEGMENTATION_*`` variables, then ``overrides``."""
        get = os.environ.get
        values: dict[str, Any] = {
            "project_path": Path(get(f"{ENV_PREFIX}PROJECT", Path.cwd())),
            "env": get(f"{ENV_PREFIX}ENV") or get("KEDRO_ENV"),
            "max_batch": int(get(f"{ENV_PREFIX}MAX_BATCH", 10_000)),
            "max_body_bytes": int(get(f"{ENV_PREFIX}MAX_BODY_BYTES", 16 * 1024 * 1024)),
            "api_key": get(f"{ENV_PREFIX}API_KEY") or None,
            "cors_origins": tuple(o for o in get(f"{ENV_PREFIX}CORS_ORIGINS", "").split(",") if o),
        }
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))


def create_app(
    project_path: str | Path | None = None, env: str | None = None, **overrides: Any
) -> FastAPI:
    """Build the service for a Kedro project; the model loads when the app starts.

    Args:
        project_path: The project whose last `kedro run` is served (default: environment,
            then the working directory).
        env: Kedro configuration environment.
        **overrides: Other ``ServiceSettings`` fields.

    Returns:
        The FastAPI application.
    """
    settings = ServiceSettings.from_environment(
        project_path=Path(project_path) if project_path else None, env=env, **overrides
    )
    schema = _raw_schema(settings.project_path, settings.env)
    state: dict[str, Served] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            state["served"] = load_served(settings.project_path, settings.env)
        except DatasetError as error:  # nothing trained yet: stay up, answer 503
            logger.error("No model to serve in %s (run `make run` first): %s",
                         settings.project_path, error)  # fmt: skip
        yield
        state.clear()

    errors = {
        422: {
            "model": Problems,
            "description": "invalid input: each problem, its record and field",
        },
        503: {"model": Message, "description": "no model is loaded yet"},
    }
    if settings.api_key:
        errors[401] = {"model": Message, "description": "missing or wrong X-API-Key"}
    app = FastAPI(
        responses=errors,
        title="customer-segmentation",
        summary="Scores customers into the segments of the last `kedro run`.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins))
    _add_error_handlers(app)

    def served() -> Served:
        if "served" not in state:
            raise HTTPException(503, "No model is loaded yet.")
        return state["served"]

    api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

    def authorised(key: str | None = Depends(api_key_header)) -> None:
        if settings.api_key and not (key and secrets.compare_digest(key, settings.api_key)):
            raise HTTPException(401, "A valid X-API-Key header is required.")

    Customer = customer_model(schema)
    PredictRequest = batch_model(Customer)
    scoring = _Scoring(schema)
    protected = [Depends(authorised)] if settings.api_key else []  # the spec says so too

    @app.get("/health", tags=["probes"])
    async def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/ready", tags=["probes"], responses={503: {"description": "no model loaded"}})
    async def ready() -> dict[str, str]:
        """A model is loaded and requests can be scored (503 until then)."""
        served()
        return {"status": "ready"}

    @app.get("/model", tags=["model"], dependencies=protected)
    async def model() -> dict[str, Any]:
        """The served model: algorithm, k, features, version and MLflow run."""
        return served().facts

    @app.get("/segments", tags=["model"], dependencies=protected)
    async def segments() -> dict[str, Any]:
        """Each segment's id, name, size and share of the training customers."""
        return {"segments": served().segments}

    too_large = {413: {"model": Message, "description": "too many customers or too large a body"}}

    @app.post("/predict", tags=["scoring"], dependencies=protected,
              response_model=PredictResponse, responses=too_large)  # fmt: skip
    async def predict(request: PredictRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        """Segment of each posted customer, in the order posted."""
        current = served()
        batch = scoring.from_customers(current, request.customers, settings.max_batch)
        return {"predictions": scoring.predictions(current, *batch)}

    @app.post("/predict/csv", tags=["scoring"], dependencies=protected,
              response_class=Response,
              responses={200: {"content": {"text/csv": {}}}, **too_large})  # fmt: skip
    async def predict_csv(file: UploadFile = CSV_UPLOAD) -> Response:
        """Score a CSV of raw customers; answers CSV with the ID, segment and segment name."""
        current = served()
        batch = scoring.from_csv(current, await file.read(), settings.max_batch)
        answer = pd.DataFrame(scoring.predictions(current, *batch))
        return Response(answer.to_csv(index=False), media_type="text/csv")

    @app.post("/pca", tags=["scoring"], dependencies=protected, response_model=PcaResponse,
              responses=too_large)  # fmt: skip
    async def pca(request: PredictRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        """The posted customers on the training PCA plane, with their segments."""
        current = served()
        numeric, positions, ids = scoring.from_customers(
            current, request.customers, settings.max_batch
        )
        features = current.scorer.features(numeric, positions)
        plane = (features - current.pca_mean) @ current.pca_components.T
        points = scoring.predictions(current, numeric, positions, ids)
        for point, (pc1, pc2) in zip(points, plane.tolist(), strict=True):
            point.update(pc1=pc1, pc2=pc2)
            del point["segment_name"]
        return {"explained_variance_ratio": current.pca_explained, "points": points}

    return app


class _Scoring:
    """Turns validated requests into arrays, and arrays into answers, without pandas."""

    def __init__(self, schema: RawSchema) -> None:
        self.schema = schema
        self.columns = list(schema.columns)

    def from_customers(
        self, served: Served, customers: list[Any], max_batch: int
    ) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Numbers, category positions and IDs of validated request customers."""
        _check_batch(len(customers), max_batch)
        scorer = served.scorer
        field = {name: f"field_{i}" for i, name in enumerate(self.columns)}
        numeric = [field[name] for name in scorer.numeric_columns]
        categorical = [(field[name], positions) for name, positions in
                       zip(scorer.categorical_columns, scorer.positions, strict=True)]  # fmt: skip
        return (
            np.array([[getattr(c, a) for a in numeric] for c in customers], dtype=np.float64),
            np.array(
                [[p[getattr(c, a)] for a, p in categorical] for c in customers], dtype=np.int64
            ).reshape(len(customers), len(categorical)),
            [getattr(c, field[self.schema.id_column]) for c in customers],
        )  # fmt: skip

    def from_csv(
        self, served: Served, content: bytes, max_batch: int
    ) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Numbers, category positions and IDs of an uploaded CSV, checked like the pipeline."""
        try:
            raw = pd.read_csv(io.BytesIO(content))
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
            raise _invalid(f"The upload is not a readable CSV: {error}") from error
        _check_batch(len(raw), max_batch)
        missing = self.schema.missing_columns(raw)
        if missing or raw.empty:
            problem = f"lacks column(s) {', '.join(missing)}" if missing else "has no rows"
            raise _invalid(f"The CSV {problem}; expected {', '.join(self.columns)}.")
        check = check_rows(raw, self.schema)
        if not check.valid.all():
            raise HTTPException(422, [
                {"record": int(row), "field": None, "message": reason, "type": "invalid_row"}
                for row, reason in check.reasons.items()
            ])  # fmt: skip
        frame, scorer = cast_valid_rows(check.typed, self.schema), served.scorer
        positions = [
            frame[name].map(mapping).to_numpy(dtype=np.int64)
            for name, mapping in zip(scorer.categorical_columns, scorer.positions, strict=True)
        ]
        return (
            frame[scorer.numeric_columns].to_numpy(dtype=np.float64),
            np.column_stack(positions).reshape(len(frame), len(positions)),
            frame[self.schema.id_column].tolist(),
        )

    def predictions(
        self, served: Served, numeric: np.ndarray, positions: np.ndarray, ids: list[Any]
    ) -> list[dict[str, Any]]:
        segments = served.scorer.segments(served.scorer.features(numeric, positions), positions)
        names, id_column = served.names, self.schema.id_column
        return [
            {id_column: id_, "segment": segment, "segment_name": names[segment]}
            for id_, segment in zip(ids, segments.tolist(), strict=True)
        ]


def _invalid(message: str) -> HTTPException:
    return HTTPException(
        422, [{"record": None, "field": None, "message": message, "type": "invalid_file"}]
    )


def _check_batch(size: int, max_batch: int) -> None:
    if size > max_batch:
        raise HTTPException(413, f"{size} customers in one request; the limit is {max_batch}.")


def _raw_schema(project_path: Path, env: str | None) -> RawSchema:
    """The raw schema from the project's configuration (request models are built from it)."""
    bootstrap_project(project_path)
    loader = kedro_settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / kedro_settings.CONF_SOURCE), env=env,
        **kedro_settings.CONFIG_LOADER_ARGS,
    )  # fmt: skip
    return RawSchema.from_params(loader["parameters"]["raw_schema"])


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
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
    """ASGI middleware: 413 for a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(send)
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Any) -> None:
        response = JSONResponse(
            {"detail": f"The request body is larger than {self.max_bytes} bytes."}, status_code=413
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _BodyTooLarge(Exception):
    pass
