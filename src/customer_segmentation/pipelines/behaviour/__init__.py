"""Spending behaviour from a transaction log: checked lines, features per customer, RFM."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
