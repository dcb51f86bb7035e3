"""LLM call events (channel ``llm``)."""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar

from .base import BaseEvent


class LLMCallType(str, Enum):
    """Whether an LLM call produced text or tool calls."""

    LLM_CALL = "llm_call"
    TOOL_CALL = "tool_call"


class LLMEvent(BaseEvent):
    """Base of the LLM events; carries the model and the call's id."""

    channel: ClassVar[str] = "llm"
    model: str | None = None
    call_id: str | None = None


class LLMCallStartedEvent(LLMEvent):
    """An LLM call started with these messages."""

    type: str = "llm_call_started"
    messages: list[dict[str, Any]] | str | None = None
    tools: list[dict[str, Any]] | None = None


class LLMCallCompletedEvent(LLMEvent):
    """An LLM call returned ``response``."""

    type: str = "llm_call_completed"
    response: Any = None
    call_type: LLMCallType = LLMCallType.LLM_CALL
    usage: dict[str, int] | None = None


class LLMCallFailedEvent(LLMEvent):
    """An LLM call raised ``error``."""

    type: str = "llm_call_failed"
    error: str


class LLMStreamChunkEvent(LLMEvent):
    """One streamed piece of an LLM reply."""

    type: str = "llm_stream_chunk"
    chunk: str
    tool_call: dict[str, Any] | None = None


class LLMThinkingChunkEvent(LLMEvent):
    """One streamed piece of the reasoning a provider sends apart from the answer."""

    type: str = "llm_thinking_chunk"
    chunk: str
