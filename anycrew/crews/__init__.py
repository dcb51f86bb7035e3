"""Crew-side value types, at CrewAI's import paths."""

from .crew_output import CrewOutput as CrewOutput

__all__ = ["CrewOutput"]
