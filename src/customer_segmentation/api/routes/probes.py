"""Liveness and readiness probes: open even when an API key is set."""

from fastapi import APIRouter

from ..deps import LoadedDep

router = APIRouter(tags=["probes"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "no model loaded"}})
async def ready(_: LoadedDep) -> dict[str, str]:
    """A model is loaded and requests can be scored (503 until then)."""
    return {"status": "ready"}
