"""Turn segment ids into profiles and names a marketer can read."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
