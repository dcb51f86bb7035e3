"""Crew lifecycle events (channel ``lifecycle``)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import BaseEvent


class CrewEvent(BaseEvent):
    """Base of the crew events; carries the crew's name."""

    channel: ClassVar[str] = "lifecycle"
    crew_name: str | None = None


class CrewKickoffStartedEvent(CrewEvent):
    """A crew started a kickoff (with these inputs)."""

    type: str = "crew_kickoff_started"
    inputs: dict[str, Any] | None = None


class CrewKickoffCompletedEvent(CrewEvent):
    """A crew finished its kickoff; ``output`` is the CrewOutput."""

    type: str = "crew_kickoff_completed"
    output: Any = None
    total_tokens: int = 0


class CrewKickoffFailedEvent(CrewEvent):
    """A crew's kickoff raised ``error``."""

    type: str = "crew_kickoff_failed"
    error: str


class CrewKickoffCancelledEvent(CrewEvent):
    """A crew's kickoff was cancelled before it finished."""

    type: str = "crew_kickoff_cancelled"
