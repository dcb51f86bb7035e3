"""CrewOutput: what a crew's kickoff produced."""

from __future__ import annotations

import json

from pydantic import Field

from ..tasks.output_format import OutputFormat
from ..tasks.task_output import TaskOutput
from ..types._output import StructuredOutput
from ..types.usage_metrics import UsageMetrics


class CrewOutput(StructuredOutput):
    """The result of a kickoff: the last task's output plus every task's output.

    ``str(output)`` is the pydantic model's text if there is one, else the JSON dict
    if there is one, else ``raw``. ``output["key"]`` reads from the pydantic model or
    the JSON dict.
    """

    tasks_output: list[TaskOutput] = Field(default_factory=list)
    token_usage: UsageMetrics = Field(default_factory=UsageMetrics)

    @property
    def json(self) -> str | None:  # type: ignore[override]
        """The JSON dict as a string (only when the last task has ``output_json``)."""
        if self.tasks_output and self.tasks_output[-1].output_format != OutputFormat.JSON:
            raise ValueError(
                "the crew's final output is not JSON; set output_json=<model> on the "
                "last task to get a JSON output"
            )
        return json.dumps(self.json_dict)
