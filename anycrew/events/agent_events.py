"""Agent execution events (channel ``lifecycle``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import BaseEvent


class AgentEvent(BaseEvent):
    """Base of the agent events."""

    channel: ClassVar[str] = "lifecycle"


class AgentExecutionStartedEvent(AgentEvent):
    """An agent started working on a task with this prompt."""

    type: str = "agent_execution_started"
    task_prompt: str = ""
    tools: list[str] = Field(default_factory=list)


class AgentExecutionCompletedEvent(AgentEvent):
    """An agent gave its final answer."""

    type: str = "agent_execution_completed"
    output: str = ""


class AgentExecutionErrorEvent(AgentEvent):
    """An agent's execution raised ``error``."""

    type: str = "agent_execution_error"
    error: str


class AgentExecutionCancelledEvent(AgentEvent):
    """An agent's execution was cancelled before it finished."""

    type: str = "agent_execution_cancelled"
