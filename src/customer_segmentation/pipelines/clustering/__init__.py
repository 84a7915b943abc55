"""Choose k, fit K-Means and assign every customer a segment."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
