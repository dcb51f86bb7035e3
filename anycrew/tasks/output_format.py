"""OutputFormat: the shape of a task's output."""

from enum import Enum


class OutputFormat(str, Enum):
    """How a task's output is given: plain text, a JSON dict or a pydantic model."""

    JSON = "json"
    PYDANTIC = "pydantic"
    RAW = "raw"
