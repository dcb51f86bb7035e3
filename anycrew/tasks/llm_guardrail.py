"""LLMGuardrail: a guardrail written in words and checked by a model."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .task_output import TaskOutput

if TYPE_CHECKING:
    from ..llms.base_llm import BaseLLM


class LLMGuardrailResult(BaseModel):
    """The verdict an LLM guardrail asks its model for."""

    # Built on first use, not at import: building a model's validator the first
    # time loads pydantic's plugin machinery (about 70 ms of `import anycrew`).
    model_config = ConfigDict(defer_build=True)

    valid: bool = Field(description="whether the task result meets the requirement")
    feedback: str | None = Field(
        default=None, description="what fails, when the result does not meet the requirement"
    )


_SYSTEM = (
    "You review the result of a task against one requirement. You only judge: you do "
    "not rewrite the result. Reply with a single JSON object that matches this JSON "
    "schema, with nothing before or after it:\n"
)


class LLMGuardrail:
    """A guardrail that asks a model whether a task's output meets *description*.

    ``Task(guardrail="...")`` (or a string in ``guardrails=[...]``) builds one, judged by
    the task's agent's LLM. The model answers with an :class:`LLMGuardrailResult`; a
    valid verdict passes the output unchanged, an invalid one fails the check with
    the model's feedback, which goes back to the agent. A verdict that cannot be read
    also fails the check, saying so. An error of the LLM call itself (a provider
    fault) is not a verdict: it fails the task.

    Args:
        description: the requirement, in words.
        llm: the model that judges; ``None`` means the task's agent's LLM.

    Raises:
        ConfigurationError: for an empty description.
    """

    def __init__(self, description: str, llm: BaseLLM | None = None) -> None:
        from ..errors import ConfigurationError

        if not isinstance(description, str) or not description.strip():
            raise ConfigurationError(
                "an LLM guardrail needs a non-empty description of what to check, "
                f"got {description!r}"
            )
        self.description = description.strip()
        self.llm = llm

    def __repr__(self) -> str:
        return f"LLMGuardrail(description={self.description!r})"

    def messages(self, output: TaskOutput) -> list[dict[str, Any]]:
        """The messages that ask the model for its verdict on *output*."""
        schema = json.dumps(LLMGuardrailResult.model_json_schema())
        return [
            {"role": "system", "content": _SYSTEM + schema},
            {
                "role": "user",
                "content": f"Requirement:\n{self.description}\n\nTask result:\n{output.raw}\n\n"
                "Does the task result meet the requirement? If it does not, say in "
                "'feedback' exactly what fails.",
            },
        ]

    async def acheck(self, output: TaskOutput, llm: BaseLLM | None = None) -> tuple[bool, Any]:
        """Ask this guardrail's LLM (else *llm*, else the default) for a verdict on *output*.

        Returns:
            ``(True, output.raw)`` for a pass, ``(False, feedback)`` for a failure.
        """
        from .._prompts import final_answer, parse_structured
        from ..llm import default_llm
        from ..llms._invoke import invoke_llm

        judge = self.llm or llm or default_llm()
        response = await invoke_llm(
            judge, self.messages(output), source=self, response_format=LLMGuardrailResult
        )
        try:
            verdict = parse_structured(final_answer(response.text), LLMGuardrailResult)
        except ValueError as problem:
            return False, f"the guardrail's verdict could not be read ({problem})"
        if verdict.valid:
            return True, output.raw
        return False, verdict.feedback or f"the output does not meet: {self.description}"

    async def __call__(self, output: TaskOutput) -> tuple[bool, Any]:
        """Check *output* with this guardrail's LLM (or the default LLM)."""
        return await self.acheck(output)
