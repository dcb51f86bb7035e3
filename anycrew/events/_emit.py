"""How the domain emits: fill in task and agent fields, then hand over to the run."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .. import runtime
from .base import BaseEvent, new_event_id


@dataclass(slots=True)
class StepObjects:
    """The crew, task and agent objects of the step in progress (what hooks see).

    ``llm_calls`` counts the LLM calls made so far in the agent's step.
    """

    crew: Any = None
    task: Any = None
    agent: Any = None
    llm_calls: int = 0


_Step = tuple[str | None, str | None, str | None, str | None, StepObjects | None]

# (task_id, task_name, agent_id, agent_role, objects) of the step in progress.
_step: ContextVar[_Step] = ContextVar("anycrew_step", default=(None, None, None, None, None))


def step_context(
    *,
    task_id: str | None = None,
    task_name: str | None = None,
    agent_id: str | None = None,
    agent_role: str | None = None,
    crew: Any = None,
    task: Any = None,
    agent: Any = None,
) -> runtime.bind[_Step]:
    """Label the events emitted inside the block with this task and agent.

    *crew*, *task* and *agent* are the objects themselves, for hooks; a new agent
    starts a new count of LLM calls.
    """
    old = _step.get()
    objects = old[4]
    if crew is not None or task is not None or agent is not None:
        before = objects or StepObjects()
        objects = StepObjects(
            crew if crew is not None else before.crew,
            task if task is not None else before.task,
            agent if agent is not None else before.agent,
            0 if agent is not None else before.llm_calls,
        )
    return runtime.bind(
        _step,
        (task_id or old[0], task_name or old[1], agent_id or old[2], agent_role or old[3], objects),
    )


def count_llm_call() -> None:
    """Count one more LLM call in the agent's step in progress (if any)."""
    objects = _step.get()[4]
    if objects is not None:
        objects.llm_calls += 1


def step_objects() -> StepObjects | None:
    """The crew, task and agent of the step in progress (None outside any)."""
    return _step.get()[4]


def step_agent_role() -> str | None:
    """The (interpolated) role of the agent of the step in progress, if any."""
    return _step.get()[3]


def _label(event: BaseEvent) -> None:
    # Written straight into the model's dict: these are plain, already-valid
    # values, and pydantic's __setattr__ would cost more than the rest of emission.
    fields = event.__dict__
    task_id, task_name, agent_id, agent_role, _ = _step.get()
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


async def emit_lazy(source: Any, event_type: type[BaseEvent], /, **fields: Any) -> str:
    """Emit an *event_type* event built from *fields*, only if someone receives it.

    Returns the event's id either way, so spans and ``started_event_id`` links stay
    the same whether or not the event was built: a run nobody listens to skips
    building, stamping and routing its lifecycle events.
    """
    if not runtime.wants(event_type):
        return new_event_id()
    event = event_type(**fields)
    await emit(source, event)
    return event.event_id
