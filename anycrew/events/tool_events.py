"""Tool usage events (channel ``tools``)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import BaseEvent


class ToolUsageEvent(BaseEvent):
    """Base of the tool events: which tool, with which arguments."""

    channel: ClassVar[str] = "tools"
    tool_name: str
    tool_args: dict[str, Any] | str = ""
    tool_class: str | None = None
    run_attempts: int = 1


class ToolUsageStartedEvent(ToolUsageEvent):
    """An agent started using a tool."""

    type: str = "tool_usage_started"


class ToolUsageFinishedEvent(ToolUsageEvent):
    """A tool returned ``output`` (``from_cache``: without running, from the run's cache)."""

    type: str = "tool_usage_finished"
    output: Any = None
    from_cache: bool = False


class ToolUsageErrorEvent(ToolUsageEvent):
    """Using a tool failed with ``error`` (any cause: selection, input, execution, limit)."""

    type: str = "tool_usage_error"
    error: str


class ToolValidateInputErrorEvent(ToolUsageEvent):
    """The model's arguments for a tool were malformed or did not fit its schema."""

    type: str = "tool_validate_input_error"
    error: str


class ToolSelectionErrorEvent(ToolUsageEvent):
    """The model asked for a tool the agent does not have."""

    type: str = "tool_selection_error"
    error: str


class ToolExecutionErrorEvent(ToolUsageEvent):
    """A tool raised ``error`` while running."""

    type: str = "tool_execution_error"
    error: str
