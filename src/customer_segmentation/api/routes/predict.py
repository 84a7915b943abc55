"""Scoring: customers as JSON or as a CSV upload, and their place on the PCA plane."""

import asyncio
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, File, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from ..deps import SegmenterDep, SettingsDep
from ..schemas import Message, PcaResponse, PredictResponse
from ..scoring import RequestReader, check_batch, score_csv

CSV_UPLOAD = File(..., description="raw customers, CSV with the raw schema's columns")
Scored = tuple[list[dict[str, Any]], np.ndarray, np.ndarray]  # answers, numbers, positions
TOO_LARGE = {413: {"model": Message, "description": "too many customers or too large a body"}}


def create_router(
    request_model: type[BaseModel], reader: RequestReader, max_batch: int,
    csv_format: dict[str, Any],
) -> APIRouter:  # fmt: skip
    """The scoring routes for a request model generated from the configuration's schema;
    uploads are read as the raw files are written (``csv_format``)."""
    router = APIRouter(tags=["scoring"])

    async def scored(request: request_model, segmenter: SegmenterDep) -> Scored:
        """The posted customers' answers, raw numbers and legend positions (the body's
        customers are validated by ``request_model``, generated from ``raw_schema``)."""
        check_batch(len(request.customers), max_batch)
        if reader.behaviour is not None:  # pandas, bounded by the body size: off the loop
            await run_in_threadpool(reader.derive_behaviour, request.customers,
                                    getattr(request, "as_of", None))  # fmt: skip
        return reader.predictions(segmenter, request.customers)

    ScoredDep = Annotated[Scored, Depends(scored)]

    @router.post("/predict", response_model=PredictResponse, responses=TOO_LARGE)
    async def predict(answers: ScoredDep) -> dict[str, Any]:
        """Segment of each posted customer, in the order posted."""
        return {"predictions": answers[0]}

    @router.post("/predict/csv", response_class=Response,
                 responses={200: {"content": {"text/csv": {}}}, **TOO_LARGE})  # fmt: skip
    async def predict_csv(
        segmenter: SegmenterDep, settings: SettingsDep, file: UploadFile = CSV_UPLOAD
    ) -> Response:
        """Score a CSV of raw customers; answers CSV with the ID, segment and segment name."""
        content = await file.read()
        scoring = run_in_threadpool(score_csv, segmenter, content, max_batch, csv_format)
        try:  # off the event loop, and bounded: /health answers meanwhile
            answer = await asyncio.wait_for(scoring, settings.csv_seconds)
        except TimeoutError as error:
            raise HTTPException(
                413, f"Scoring the upload took longer than {settings.csv_seconds:g} s; "
                "send fewer rows per request.",
            ) from error  # fmt: skip
        return Response(answer.to_csv(index=False), media_type="text/csv")

    @router.post("/pca", response_model=PcaResponse, responses=TOO_LARGE)
    async def pca(answers: ScoredDep, segmenter: SegmenterDep) -> dict[str, Any]:
        """The posted customers on the training PCA plane, with their segments."""
        points, numeric, positions = answers
        plane = segmenter.project(numeric, positions).tolist()
        for point, (pc1, pc2) in zip(points, plane, strict=True):
            point.update(pc1=pc1, pc2=pc2)
            del point["segment_name"]
        return {"explained_variance_ratio": list(segmenter.pca_explained), "points": points}

    return router
