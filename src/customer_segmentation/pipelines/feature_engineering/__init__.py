"""Turn primary customers into scaled model input with a fitted preprocessor."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
