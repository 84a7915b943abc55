"""What is served: the segmenter's facts and its segments."""

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ..deps import LoadedDep, SegmenterDep

router = APIRouter(tags=["model"])


@router.get("/model")
async def model(loaded: LoadedDep) -> dict[str, Any]:
    """The served model: algorithm, k, features, segmenter version and MLflow run."""
    return await run_in_threadpool(lambda: loaded.facts)  # MLflow's answer: off the loop


@router.get("/segments")
async def segments(segmenter: SegmenterDep) -> dict[str, Any]:
    """Each segment's id, name, size and share of the training customers."""
    total = sum(segmenter.sizes)
    return {"segments": [
        {"segment": k, "segment_name": segmenter.name(k), "size": size, "share": size / total}
        for k, size in enumerate(segmenter.sizes)
    ]}  # fmt: skip
