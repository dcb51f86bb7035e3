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


class CrewTestStartedEvent(CrewEvent):
    """``crew.test()`` started: *n_iterations* kickoffs, scored by the *eval_llm* model."""

    type: str = "crew_test_started"
    n_iterations: int
    eval_llm: str | None = None
    inputs: dict[str, Any] | None = None


class CrewTestCompletedEvent(CrewEvent):
    """``crew.test()`` ran and scored every iteration."""

    type: str = "crew_test_completed"


class CrewTestFailedEvent(CrewEvent):
    """``crew.test()`` stopped: a kickoff or an evaluation raised ``error``."""

    type: str = "crew_test_failed"
    error: str


class CrewTestResultEvent(CrewEvent):
    """One task's output in one iteration of ``crew.test()`` was scored.

    ``quality`` is the score (1-10), ``execution_duration`` the seconds the task ran,
    ``model`` the evaluating model; ``task_id`` and ``task_name`` name the task and
    ``iteration`` counts from 1.
    """

    type: str = "crew_test_result"
    quality: float
    execution_duration: float | None = None
    model: str
    iteration: int = 0
