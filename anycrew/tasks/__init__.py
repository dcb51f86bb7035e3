"""Task-side value types, at CrewAI's import paths."""

from .output_format import OutputFormat as OutputFormat
from .task_output import TaskOutput as TaskOutput

__all__ = ["OutputFormat", "TaskOutput"]
