"""How a crew's kickoff runs: plan (validate everything), then execute in a run scope."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from . import runtime
from ._interpolate import validate_inputs
from .agent import Agent, AgentPersona
from .crews.crew_output import CrewOutput
from .events._emit import emit, emit_shielded, step_context
from .events.crew_events import (
    CrewKickoffCancelledEvent,
    CrewKickoffCompletedEvent,
    CrewKickoffFailedEvent,
    CrewKickoffStartedEvent,
)
from .events.task_events import (
    TaskCancelledEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    TaskStartedEvent,
)
from .llms._invoke import collect_usage, describe_error
from .task import Task
from .tasks.task_output import TaskOutput
from .types.usage_metrics import UsageMetrics

if TYPE_CHECKING:
    from .crew import Crew

_CONTEXT_SEPARATOR = "\n\n----------\n\n"


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """One task of a kickoff with its inputs filled in."""

    index: int
    task: Task
    agent: Agent
    persona: AgentPersona
    description: str
    expected_output: str
    context: tuple[int, ...] | None  # indices of context tasks; None = all earlier


def plan_kickoff(crew: Crew, inputs: Any) -> tuple[dict[str, Any], list[TaskPlan]]:
    """Validate *inputs* against every task and agent of *crew*, before anything runs.

    Raises:
        InvalidInputError: for malformed inputs or a missing placeholder.
    """
    checked = validate_inputs(inputs)
    positions = {id(task): index for index, task in enumerate(crew.tasks)}
    personas: dict[int, AgentPersona] = {}
    plans = []
    for index, task in enumerate(crew.tasks):
        agent = task.agent
        assert agent is not None  # the crew's validator guarantees it
        persona = personas.get(id(agent))
        if persona is None:
            persona = personas[id(agent)] = agent.persona(checked)
        description, expected_output = task.interpolated(checked)
        context = None if task.context is None else tuple(positions[id(t)] for t in task.context)
        plans.append(TaskPlan(index, task, agent, persona, description, expected_output, context))
    return checked, plans


async def run_crew(crew: Crew, inputs: Any, router: runtime.Router) -> CrewOutput:
    """Kick *crew* off with *inputs* in a new run (or as a child of the current run)."""
    checked, plans = plan_kickoff(crew, inputs)
    return await runtime.open_run(partial(_execute_crew, crew, checked, plans), router=router)


async def _execute_crew(
    crew: Crew, inputs: dict[str, Any], plans: list[TaskPlan], run: runtime.Run
) -> CrewOutput:
    usage = UsageMetrics()
    started = await emit(crew, CrewKickoffStartedEvent(crew_name=crew.name, inputs=inputs))
    try:
        with runtime.span(started.event_id), collect_usage(usage):
            outputs = await _execute_tasks(plans)
    except anyio.get_cancelled_exc_class():
        await emit_shielded(
            crew, CrewKickoffCancelledEvent(crew_name=crew.name, started_event_id=started.event_id)
        )
        raise
    except Exception as exc:
        await emit(
            crew,
            CrewKickoffFailedEvent(
                crew_name=crew.name, error=describe_error(exc), started_event_id=started.event_id
            ),
        )
        raise
    last = outputs[-1]
    result = CrewOutput(
        raw=last.raw,
        pydantic=last.pydantic,
        json_dict=last.json_dict,
        tasks_output=outputs,
        token_usage=usage,
    )
    await emit(
        crew,
        CrewKickoffCompletedEvent(
            crew_name=crew.name,
            output=result,
            total_tokens=usage.total_tokens,
            started_event_id=started.event_id,
        ),
    )
    crew.usage_metrics = usage
    return result


def _context_text(outputs: Sequence[TaskOutput | None], indices: Sequence[int]) -> str:
    return _CONTEXT_SEPARATOR.join(
        output.raw for i in indices if (output := outputs[i]) is not None
    )


async def _execute_tasks(plans: list[TaskPlan]) -> list[TaskOutput]:
    """Run the tasks in order; async ones as child tasks, joined by the next sync one."""
    outputs: list[TaskOutput | None] = [None] * len(plans)
    finished = {plan.index: anyio.Event() for plan in plans if plan.task.async_execution}
    pending: list[int] = []

    async def run_async(plan: TaskPlan, context: tuple[int, ...]) -> None:
        for index in context:
            if index in finished:
                await finished[index].wait()
        outputs[plan.index] = await _execute_task(plan, _context_text(outputs, context))
        finished[plan.index].set()

    try:
        async with anyio.create_task_group() as tg:
            for plan in plans:
                if plan.task.async_execution:
                    # By default an async task sees what has finished before it: every
                    # earlier task except the async ones still running beside it.
                    context = plan.context
                    if context is None:
                        context = tuple(i for i in range(plan.index) if i not in pending)
                    tg.start_soon(run_async, plan, context, name=f"task {plan.task.display_name}")
                    pending.append(plan.index)
                    continue
                for index in pending:
                    await finished[index].wait()
                pending.clear()
                context = plan.context if plan.context is not None else tuple(range(plan.index))
                outputs[plan.index] = await _execute_task(plan, _context_text(outputs, context))
    except BaseExceptionGroup as group:
        raise runtime.unwrap_group(group) from None
    assert all(output is not None for output in outputs)
    return [output for output in outputs if output is not None]


async def _execute_task(plan: TaskPlan, context: str) -> TaskOutput:
    task = plan.task
    with step_context(task_id=str(task.id), task_name=task.display_name):
        started = await emit(task, TaskStartedEvent(context=context or None))
        try:
            with runtime.span(started.event_id):
                raw = await plan.agent.aexecute_task(
                    plan.persona,
                    description=plan.description,
                    expected_output=plan.expected_output,
                    context=context or None,
                    task_name=task.display_name,
                )
                output = TaskOutput(
                    description=plan.description,
                    name=task.name,
                    expected_output=plan.expected_output,
                    raw=raw,
                    agent=plan.persona.role,
                )
                if task.callback is not None:
                    await _call_user(task.callback, output)
        except anyio.get_cancelled_exc_class():
            await emit_shielded(task, TaskCancelledEvent(started_event_id=started.event_id))
            raise
        except Exception as exc:
            await emit(
                task, TaskFailedEvent(error=describe_error(exc), started_event_id=started.event_id)
            )
            raise
        task.output = output
        await emit(task, TaskCompletedEvent(output=output, started_event_id=started.event_id))
    return output


async def _call_user(callback: Any, *args: Any) -> Any:
    """Call a user callback: await it if async, else run it in a worker thread."""
    if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)  # noqa: B004
    ):
        return await callback(*args)
    result = await anyio.to_thread.run_sync(
        partial(callback, *args), limiter=runtime.thread_limiter()
    )
    if inspect.isawaitable(result):
        return await result
    return result
