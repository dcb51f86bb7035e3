"""Task lifecycle events (channel ``lifecycle``)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import BaseEvent


class TaskEvent(BaseEvent):
    """Base of the task events."""

    channel: ClassVar[str] = "lifecycle"


class TaskStartedEvent(TaskEvent):
    """A task started; ``context`` is the text of the outputs it was given."""

    type: str = "task_started"
    context: str | None = None


class TaskCompletedEvent(TaskEvent):
    """A task finished; ``output`` is its TaskOutput."""

    type: str = "task_completed"
    output: Any = None


class TaskFailedEvent(TaskEvent):
    """A task raised ``error``."""

    type: str = "task_failed"
    error: str


class TaskCancelledEvent(TaskEvent):
    """A task was cancelled before it finished."""

    type: str = "task_cancelled"


class TaskSkippedEvent(TaskEvent):
    """A ConditionalTask's condition was false, so the task did not run.

    ``output`` is the empty TaskOutput it got instead.
    """

    type: str = "task_skipped"
    output: Any = None
