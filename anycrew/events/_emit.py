"""How the domain emits: fill in task and agent fields, then hand over to the run."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from .. import runtime
from .base import BaseEvent

# (task_id, task_name, agent_id, agent_role) of the step in progress.
_step: ContextVar[tuple[str | None, str | None, str | None, str | None]] = ContextVar(
    "anycrew_step", default=(None, None, None, None)
)


def step_context(
    *,
    task_id: str | None = None,
    task_name: str | None = None,
    agent_id: str | None = None,
    agent_role: str | None = None,
) -> runtime.bind[tuple[str | None, str | None, str | None, str | None]]:
    """Label the events emitted inside the block with this task and agent."""
    old = _step.get()
    return runtime.bind(
        _step, (task_id or old[0], task_name or old[1], agent_id or old[2], agent_role or old[3])
    )


def _label(event: BaseEvent) -> None:
    # Written straight into the model's dict: these are plain, already-valid
    # values, and pydantic's __setattr__ would cost more than the rest of emission.
    fields = event.__dict__
    task_id, task_name, agent_id, agent_role = _step.get()
    if fields["task_id"] is None:
        fields["task_id"] = task_id
    if fields["task_name"] is None:
        fields["task_name"] = task_name
    if fields["agent_id"] is None:
        fields["agent_id"] = agent_id
    if fields["agent_role"] is None:
        fields["agent_role"] = agent_role


async def emit(source: Any, event: BaseEvent) -> BaseEvent:
    """Emit *event* into the current run and return it (stamped)."""
    _label(event)
    await runtime.emit(source, event)
    return event


async def emit_shielded(source: Any, event: BaseEvent) -> BaseEvent:
    """Emit *event* while the run is being cancelled (see runtime.emit_shielded)."""
    _label(event)
    await runtime.emit_shielded(source, event)
    return event


def current_agent_id() -> str | None:
    """The id of the agent whose step is in progress here, if any."""
    return _step.get()[2]
