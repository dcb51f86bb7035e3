"""Shared value types."""
