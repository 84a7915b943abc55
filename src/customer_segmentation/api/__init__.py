"""The HTTP scoring service: FastAPI over what the last `kedro run` wrote."""

from .app import create_app

__all__ = ["create_app"]
