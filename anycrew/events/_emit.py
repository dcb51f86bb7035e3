"""How the domain emits: fill in task and agent fields, then hand over to the run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import runtime
from .base import BaseEvent, new_event_id

if TYPE_CHECKING:
    from ..types.usage_metrics import UsageMetrics


class StepObjects(runtime.Span):
    """The step in progress: its span, its event labels and its crew, task and agent.

    Hooks see ``crew``, ``task``, ``agent`` and ``llm_calls``, the LLM calls made so
    far in the agent's step. It is the run's span (see :class:`runtime.Span`): one
    object per level (crew, task, agent) holds where events nest, the labels stamped
    on them and the objects, so entering a level sets one context variable.
    """

    __slots__ = (
        "_counter",
        "_llm_calls",
        "agent",
        "agent_id",
        "agent_role",
        "crew",
        "task",
        "task_id",
        "task_name",
        "usage",
    )

    def __init__(
        self,
        event_id: str | None = None,
        task_id: str | None = None,
        task_name: str | None = None,
        agent_id: str | None = None,
        agent_role: str | None = None,
        crew: Any = None,
        task: Any = None,
        agent: Any = None,
        counter: StepObjects | None = None,
        llm_calls: int = 0,
        usage: UsageMetrics | None = None,
    ) -> None:
        self.event_id = event_id
        self.task_id = task_id
        self.task_name = task_name
        self.agent_id = agent_id
        self.agent_role = agent_role
        self.crew = crew
        self.task = task
        self.agent = agent
        # The step whose count of LLM calls this one shares (None: its own, from
        # llm_calls), so a level that only relabels (or nests) keeps counting the
        # agent's calls.
        self._counter = counter
        self._llm_calls = llm_calls
        #: Where the LLM calls made inside the step add their token counts: the
        #: crew's (a crew's step starts a new count, every level inside shares it).
        self.usage = usage

    def nested(self, event_id: str | None) -> StepObjects:
        """The same step, with its events nested under *event_id*."""
        return StepObjects(
            event_id,
            self.task_id,
            self.task_name,
            self.agent_id,
            self.agent_role,
            self.crew,
            self.task,
            self.agent,
            self._counter or self,
            usage=self.usage,
        )

    @property
    def llm_calls(self) -> int:
        """The LLM calls made so far in the agent's step."""
        return (self._counter or self)._llm_calls

    def count_llm_call(self) -> None:
        """Count one more LLM call in the agent's step."""
        (self._counter or self)._llm_calls += 1


def step_context(
    *,
    task_id: str | None = None,
    task_name: str | None = None,
    agent_id: str | None = None,
    agent_role: str | None = None,
    crew: Any = None,
    task: Any = None,
    agent: Any = None,
    span: str | None = None,
    usage: UsageMetrics | None = None,
) -> StepObjects:
    """Label the events emitted inside the block with this task and agent.

    *crew*, *task* and *agent* are the objects themselves, for hooks. A new agent
    starts a new count of LLM calls; a new crew or task starts its own count from
    the current one (calls made at that level, a guardrail's, say, are not the
    enclosing agent's); a level that only relabels shares the current count.
    With *span* the events also nest under the event of that id (the level's
    started event); otherwise they nest where they did. Either way it is one
    context variable set; the returned step is the ``with`` block. *usage* (a
    crew's) collects the token counts of the LLM calls made inside; levels
    without one share the current step's.
    """
    current = runtime.current_span()
    if span is None and current is not None:
        span = current.event_id
    if not isinstance(current, StepObjects):
        return StepObjects(
            span, task_id, task_name, agent_id, agent_role, crew, task, agent, usage=usage
        )
    own_objects = crew is not None or task is not None or agent is not None
    return StepObjects(
        span,
        task_id or current.task_id,
        task_name or current.task_name,
        agent_id or current.agent_id,
        agent_role or current.agent_role,
        crew if crew is not None else current.crew,
        task if task is not None else current.task,
        agent if agent is not None else current.agent,
        # Shared only by a level that brings no objects of its own.
        None if own_objects else (current._counter or current),
        0 if agent is not None else current.llm_calls,
        usage if usage is not None else current.usage,
    )


# A kickoff's three levels, entered on every kickoff: what step_context does for
# each, without its keyword arguments and branches (they were most of its cost).


def crew_step(crew: Any, span: str, usage: UsageMetrics) -> StepObjects:
    """``step_context(crew=crew, span=span, usage=usage)``."""
    current = _current_span()
    if not isinstance(current, StepObjects):
        return StepObjects(span, None, None, None, None, crew, None, None, None, 0, usage)
    return StepObjects(
        span,
        current.task_id,
        current.task_name,
        current.agent_id,
        current.agent_role,
        crew,
        current.task,
        current.agent,
        None,
        current.llm_calls,
        usage,
    )


def task_step(task_id: str, task_name: str, task: Any, span: str) -> StepObjects:
    """``step_context(task_id=task_id, task_name=task_name, task=task, span=span)``."""
    current = _current_span()
    if not isinstance(current, StepObjects):
        return StepObjects(span, task_id, task_name, None, None, None, task)
    return StepObjects(
        span,
        task_id or current.task_id,
        task_name or current.task_name,
        current.agent_id,
        current.agent_role,
        current.crew,
        task,
        current.agent,
        None,
        current.llm_calls,
        current.usage,
    )


def agent_step(agent_id: str, agent_role: str, agent: Any, span: str) -> StepObjects:
    """``step_context(agent_id=agent_id, agent_role=agent_role, agent=agent, span=span)``."""
    current = _current_span()
    if not isinstance(current, StepObjects):
        return StepObjects(span, None, None, agent_id, agent_role, None, None, agent)
    return StepObjects(
        span,
        current.task_id,
        current.task_name,
        agent_id or current.agent_id,
        agent_role or current.agent_role,
        current.crew,
        current.task,
        agent,
        None,
        0,
        current.usage,
    )


_current_span = runtime.current_span


def step_objects() -> StepObjects | None:
    """The crew, task and agent of the step in progress (None outside any)."""
    span = runtime.current_span()
    return span if isinstance(span, StepObjects) else None


def step_agent_role() -> str | None:
    """The (interpolated) role of the agent of the step in progress, if any."""
    step = step_objects()
    return None if step is None else step.agent_role


def _label(event: BaseEvent) -> None:
    # Written straight into the model's dict: these are plain, already-valid
    # values, and pydantic's __setattr__ would cost more than the rest of emission.
    step = runtime.current_span()
    if not isinstance(step, StepObjects):
        return
    fields = event.__dict__
    if fields["task_id"] is None:
        fields["task_id"] = step.task_id
    if fields["task_name"] is None:
        fields["task_name"] = step.task_name
    if fields["agent_id"] is None:
        fields["agent_id"] = step.agent_id
    if fields["agent_role"] is None:
        fields["agent_role"] = step.agent_role


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
    step = step_objects()
    return None if step is None else step.agent_id


def unheard_id(event_type: type[BaseEvent]) -> str | None:
    """A fresh event id when no one would receive an *event_type* event emitted now.

    None when someone would: then build the event and emit it. The id keeps spans
    and ``started_event_id`` links the same whether or not the event was built, so
    a run nobody listens to skips building, stamping and routing its lifecycle
    events (and making a coroutine to emit them)::

        started_id = unheard_id(TaskStartedEvent) or (
            await emit(task, TaskStartedEvent(task_id=task_id, ...))
        ).event_id
    """
    return None if runtime.wants(event_type) else new_event_id()
