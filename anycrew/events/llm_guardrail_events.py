"""Guardrail events (channel ``lifecycle``), at CrewAI's module name.

Both kinds of guardrail emit them, functions and LLM guardrails alike: one started
and one completed event per check of a task's output.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import BaseEvent


class LLMGuardrailBaseEvent(BaseEvent):
    """Base of the guardrail events.

    Attributes:
        guardrail_type: ``"function"`` or ``"llm"``.
        guardrail_name: a function's name, or an LLM guardrail's text.
        guardrail_index: the guardrail's position in the task's guardrails (0 for a
            single ``guardrail=``).
    """

    channel: ClassVar[str] = "lifecycle"
    guardrail_type: str | None = None
    guardrail_name: str | None = None
    guardrail_index: int | None = None


class LLMGuardrailStartedEvent(LLMGuardrailBaseEvent):
    """A guardrail started checking a task's output.

    Attributes:
        guardrail: what is checked: an LLM guardrail's text, else the function's name
            (CrewAI sends the function's source here; anycrew does not read source).
        retry_count: how many retries this guardrail has asked for so far in the task.
    """

    type: str = "llm_guardrail_started"
    guardrail: str
    retry_count: int


class LLMGuardrailCompletedEvent(LLMGuardrailBaseEvent):
    """A guardrail finished checking a task's output.

    Attributes:
        success: whether the output passed.
        result: what the guardrail returned with a pass (None on a failure).
        error: the guardrail's message on a failure, or the exception it raised.
        retry_count: the guardrail's retry count when it started this check.
    """

    type: str = "llm_guardrail_completed"
    success: bool
    result: Any = None
    error: str | None = None
    retry_count: int
