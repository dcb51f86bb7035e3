"""A run's bookkeeping: its listeners, its completed calls, and what it resumes from.

A run records every completed method call as plain JSON data (see :class:`Resume`), and
each ``@persist`` save stores those records with the state. A run that resumes an
unfinished one replays the saved records instead of calling the methods again, so
routers take the branches they took and listeners fire as they did.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import anyio.abc

from .async_feedback.types import HumanFeedbackPending, PendingFeedbackContext, json_safe
from .decorators import Condition
from .human_feedback import HumanFeedbackResult, result_from_dict, result_to_dict
from .persistence import FlowPersistence, PersistenceError


@dataclass
class Listener:
    """A listener's progress towards firing in one run."""

    condition: Condition
    seen: set[str] = field(default_factory=set)
    armed_after: int = -1  # runs that started before this do not count (an old cycle)


@dataclass
class Resume:
    """Where a run picks up: the methods an earlier, unfinished run completed.

    ``completed`` holds one record per completed call, in order: ``{"method": name,
    "output": JSON output, "label": router label or None, "feedback": a saved
    HumanFeedbackResult or None}``. With ``feedback`` set, the run also delivers that
    text to the paused method of ``pending``.
    """

    run_id: str
    completed: list[dict[str, Any]]
    store: FlowPersistence | None = None
    pending: PendingFeedbackContext | None = None
    feedback: str | None = None


@dataclass
class FlowRun:
    """One kickoff's bookkeeping."""

    task_group: anyio.abc.TaskGroup
    listeners: dict[str, Listener]
    run_id: str
    calls: Counter[str] = field(default_factory=Counter)
    started: int = 0
    last_output: Any = None
    #: Records of this run's completed calls (see Resume), saved with the state.
    completed: list[dict[str, Any]] = field(default_factory=list)
    #: Whether to keep those records (not for a flow that never saves nor pauses).
    recording: bool = True
    #: Per method, the records of calls an earlier run completed: replayed, not rerun.
    replay: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    #: The paused method's context and the feedback it now gets, until delivered.
    feedback: tuple[PendingFeedbackContext, str] | None = None
    pending_store: FlowPersistence | None = None
    #: The resumed feedback reached its method: the pending record goes once the run
    #: finishes (kept until then, so a resume that fails later can be retried).
    feedback_delivered: bool = False
    #: The first pause asked for: no new listener starts once it is set, the running
    #: ones finish (and are saved), then the flow pauses.
    pause: HumanFeedbackPending | None = None
    #: Stores holding this run's progress; told when the run finishes.
    stores: list[FlowPersistence] = field(default_factory=list)
    #: Held across each save: snapshots of parallel methods land in the order they
    #: are taken, so the latest row is always the newest state.
    save_lock: anyio.Lock = field(default_factory=anyio.Lock)

    def next_order(self) -> int:
        """The place of a call in the run, given when it is spawned: calls spawned
        together are all counted before any of them can finish (or be replayed)."""
        self.started += 1
        return self.started

    def progress(self) -> dict[str, Any]:
        """The run's progress as saved with each snapshot."""
        return {"run": self.run_id, "completed": list(self.completed), "finished": False}

    def uses(self, store: FlowPersistence) -> None:
        """Remember that *store* holds this run's progress."""
        if not any(s is store for s in self.stores):
            self.stores.append(store)

    def resume_from(self, resume: Resume) -> None:
        """Replay *resume*'s completed calls, and deliver its feedback, in this run."""
        for record in resume.completed:
            self.replay.setdefault(record["method"], deque()).append(record)
        if resume.store is not None:
            self.uses(resume.store)
        if resume.pending is not None and resume.feedback is not None:
            self.feedback = (resume.pending, resume.feedback)
            self.pending_store = resume.store


def first_pending(exc: BaseException) -> HumanFeedbackPending | None:
    """The HumanFeedbackPending *exc* is or holds (the first one, in a group)."""
    if isinstance(exc, HumanFeedbackPending):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_pending(inner)
            if found is not None:
                return found
    return None


def checked_records(flow_id: str, progress: Any) -> list[dict[str, Any]]:
    """The completed-call records of a saved progress, checked."""
    completed = progress.get("completed") if isinstance(progress, dict) else None
    if not isinstance(completed, list) or not all(
        isinstance(r, dict) and isinstance(r.get("method"), str) for r in completed
    ):
        raise PersistenceError(
            f"the saved run progress of flow {flow_id!r} is malformed; the record is "
            "corrupt: delete it or resume from another flow id",
            flow_uuid=flow_id,
        )
    return completed


def completion_record(
    name: str, result: Any, label: str | None, feedback: HumanFeedbackResult | None
) -> dict[str, Any]:
    """The record of one completed call (see :class:`Resume`)."""
    return {
        "method": name,
        "output": json_safe(result),
        "label": label,
        "feedback": result_to_dict(feedback) if feedback is not None else None,
    }


def saved_feedback(record: dict[str, Any]) -> HumanFeedbackResult | None:
    """The review a completed call's record holds, if any."""
    saved = record.get("feedback")
    return result_from_dict(saved) if isinstance(saved, dict) else None
