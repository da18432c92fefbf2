"""Trigger a Northflank pipeline's release flow from GitHub Actions (or anywhere else)."""

__version__ = "1.0.0"
