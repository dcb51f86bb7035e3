"""TaskOutput: what one task produced."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, model_validator

from ..types._output import StructuredOutput
from .output_format import OutputFormat


def summary_of(description: str) -> str:
    """The default summary of a task output: the description's first ten words."""
    return " ".join(description.split(" ")[:10]) + "..."


class TaskOutput(StructuredOutput):
    """The result of one task.

    ``str(output)`` is the pydantic model's text if there is one, else the JSON dict
    if there is one, else ``raw``. ``output["key"]`` reads from the pydantic model or
    the JSON dict.
    """

    description: str
    name: str | None = None
    expected_output: str | None = None
    summary: str | None = None
    agent: str = ""
    output_format: OutputFormat = OutputFormat.RAW
    messages: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _set_summary(self) -> TaskOutput:
        if self.summary is None:
            self.summary = summary_of(self.description)
        return self

    @property
    def json(self) -> str | None:  # type: ignore[override]
        """The JSON dict as a string (only for tasks with ``output_json``)."""
        if self.output_format != OutputFormat.JSON:
            raise ValueError(
                "this task's output is not JSON; set output_json=<model> on the Task "
                "to get a JSON output"
            )
        return json.dumps(self.json_dict)
