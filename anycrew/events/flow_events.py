"""Flow events (channel ``flow``)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import BaseEvent


class FlowEvent(BaseEvent):
    """Base of the flow events; carries the flow's name."""

    channel: ClassVar[str] = "flow"
    flow_name: str | None = None


class FlowCreatedEvent(FlowEvent):
    """A flow object was created."""

    type: str = "flow_created"


class FlowStartedEvent(FlowEvent):
    """A flow run started with these inputs."""

    type: str = "flow_started"
    inputs: dict[str, Any] | None = None


class FlowFinishedEvent(FlowEvent):
    """A flow run finished; ``result`` is the last method's output."""

    type: str = "flow_finished"
    result: Any = None


class FlowFailedEvent(FlowEvent):
    """A flow run raised ``error``."""

    type: str = "flow_failed"
    error: str


class FlowCancelledEvent(FlowEvent):
    """A flow run was cancelled before it finished."""

    type: str = "flow_cancelled"


class FlowPausedEvent(FlowEvent):
    """A flow run paused, waiting for human feedback on ``method_name``'s output.

    ``state`` is the saved state (JSON data), ``emit`` the outcomes the feedback will
    be collapsed to; ``Flow.from_pending(flow_id)`` continues the flow.
    """

    type: str = "flow_paused"
    method_name: str | None = None
    message: str | None = None
    flow_id: str | None = None
    state: dict[str, Any] | None = None
    emit: list[str] | None = None


class FlowPlotEvent(FlowEvent):
    """A flow's graph was drawn to ``filename``."""

    type: str = "flow_plot"
    filename: str | None = None


class MethodExecutionEvent(FlowEvent):
    """Base of the flow-method events."""

    method_name: str


class MethodExecutionStartedEvent(MethodExecutionEvent):
    """A flow method started; ``triggered_by_event_id`` is the event that triggered it."""

    type: str = "method_execution_started"
    triggered_by_event_id: str | None = None


class MethodExecutionFinishedEvent(MethodExecutionEvent):
    """A flow method returned ``result``."""

    type: str = "method_execution_finished"
    result: Any = None


class MethodExecutionFailedEvent(MethodExecutionEvent):
    """A flow method raised ``error``."""

    type: str = "method_execution_failed"
    error: str


class MethodExecutionCancelledEvent(MethodExecutionEvent):
    """A flow method was cancelled before it finished."""

    type: str = "method_execution_cancelled"


class MethodExecutionPausedEvent(MethodExecutionEvent):
    """A ``@human_feedback`` method's provider paused the flow; it waits for feedback."""

    type: str = "method_execution_paused"
    flow_id: str | None = None
    message: str | None = None
    emit: list[str] | None = None


class HumanFeedbackRequestedEvent(MethodExecutionEvent):
    """A ``@human_feedback`` method asks its provider for feedback on ``output``."""

    type: str = "human_feedback_requested"
    output: Any = None
    message: str | None = None
    emit: list[str] | None = None


class HumanFeedbackReceivedEvent(MethodExecutionEvent):
    """Feedback arrived for a ``@human_feedback`` method (``outcome`` when it routes)."""

    type: str = "human_feedback_received"
    feedback: str = ""
    outcome: str | None = None
