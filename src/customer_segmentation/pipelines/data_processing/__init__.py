"""Validate the raw customer table against the schema in ``conf/``."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
