"""How a crew's kickoff runs: plan (validate everything), then execute in a run scope."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.to_thread

from . import runtime
from ._callbacks import crew_callbacks
from ._hierarchical import assign, task_tools
from ._interpolate import validate_inputs
from ._kickoff_callbacks import (
    after_kickoff,
    after_task,
    before_kickoff,
    callback_inputs,
    has_after_task,
)
from ._task_control import agent_answer, produce_output, task_output
from ._user_code import call_user as _call_user
from ._verbose import clip, say
from .agent import Agent, AgentPersona
from .crews._kickoff_record import KickoffRecord
from .crews.crew_output import CrewOutput
from .events._emit import crew_step, emit, emit_shielded, step_context, task_step, unheard_id
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
    TaskSkippedEvent,
    TaskStartedEvent,
)
from .llms._invoke import describe_error, rate_limited, streaming_tokens
from .process import Process
from .task import Task
from .tasks.conditional_task import ConditionalTask
from .tasks.task_output import TaskOutput
from .tools._runner import tool_state
from .tools.base_tool import BaseTool
from .types.usage_metrics import UsageMetrics

if TYPE_CHECKING:
    from .crew import Crew

_CONTEXT_SEPARATOR = "\n\n----------\n\n"
_HIERARCHICAL = Process.hierarchical  # a module global: enum attributes are slow to read


@dataclass(slots=True)
class TaskPlan:
    """One task of a kickoff with its inputs filled in; never changed once made.

    Not a frozen dataclass only because making one costs several times more (there
    is one per task per kickoff).
    """

    index: int
    task: Task
    agent: Agent
    persona: AgentPersona
    description: str
    expected_output: str
    context: tuple[int, ...] | None  # indices of context tasks; None = all earlier
    tools: tuple[BaseTool, ...] | None = None  # with delegation tools; None = the agent's
    output_file: str | None = None  # the task's output_file with the inputs filled in
    task_name: str = ""  # the task's display_name when it was planned


def plan_kickoff(crew: Crew, inputs: Any) -> tuple[dict[str, Any], list[TaskPlan]]:
    """Validate *inputs* against every task and agent of *crew*, before anything runs.

    Raises:
        InvalidInputError: for malformed inputs or a missing placeholder.
    """
    # The inputs first: bad ones name themselves before the crew's shape is read.
    checked = validate_inputs(inputs)
    return checked, Planner(crew).plan(checked)


class Planner:
    """Plans kickoffs of one crew as it stands when the planner is made.

    What no input changes is worked out once: who works on each task (and may
    delegate to whom), the personas that have no placeholder, the positions of each
    task's context. ``kickoff_for_each`` plans all its copies with one planner;
    nothing runs between the copies' plans, so the crew cannot change in between.
    """

    __slots__ = ("_assignments",)

    def __init__(self, crew: Crew) -> None:
        tasks = crew.tasks
        positions = {id(task): index for index, task in enumerate(tasks)}
        # Reading a pydantic private attribute costs microseconds: only when needed.
        manager = crew._manager if crew.process == _HIERARCHICAL else None
        fixed: dict[int, AgentPersona | None] = {}
        self._assignments: list[
            tuple[
                int,
                Task,
                Agent,
                list[Agent] | None,
                AgentPersona | None,
                tuple[int, ...] | None,
                str,
            ]
        ] = []
        for index, task in enumerate(tasks):
            # The task's agent, or the manager of a hierarchical crew.
            agent, coworkers = assign(crew, manager, task)
            if id(agent) not in fixed:
                fixed[id(agent)] = agent.persona({}) if agent.persona_is_fixed() else None
            context = None
            if task.context is not None:
                context = tuple(positions[id(t)] for t in task.context)
            self._assignments.append(
                (index, task, agent, coworkers, fixed[id(agent)], context, task.display_name)
            )

    def plan(self, checked: dict[str, Any]) -> list[TaskPlan]:
        """The task plans of a kickoff with *checked* inputs (from ``validate_inputs``).

        Raises:
            InvalidInputError: for a missing placeholder.
        """
        personas: dict[int, AgentPersona] = {}
        plans = []
        for index, task, agent, coworkers, persona, context, task_name in self._assignments:
            if persona is None:
                persona = _persona_of(personas, checked, agent)
            tools = (
                task_tools(agent, coworkers, partial(_persona_of, personas, checked))
                if coworkers
                else None
            )
            description, expected_output = task.interpolated(checked)
            plans.append(
                TaskPlan(
                    index,
                    task,
                    agent,
                    persona,
                    description,
                    expected_output,
                    context,
                    tools,
                    output_file=task.interpolated_output_file(checked),
                    task_name=task_name,
                )
            )
        return plans


def _persona_of(
    personas: dict[int, AgentPersona], inputs: dict[str, Any], agent: Agent
) -> AgentPersona:
    """*agent*'s persona for this kickoff, filled in once however many tasks it has."""
    persona = personas.get(id(agent))
    if persona is None:
        persona = personas[id(agent)] = agent.persona(inputs)
    return persona


def precheck_kickoff(crew: Crew, inputs: Any) -> tuple[dict[str, Any], list[TaskPlan]] | None:
    """Validate before the run: everything (the plan), or only that the inputs are a
    mapping when the crew's before-kickoff callbacks may still change them (then the
    plan is made inside the run, after the callbacks, and None is returned).

    Raises:
        InvalidInputError: for malformed inputs or a missing placeholder.
    """
    if crew.before_kickoff_callbacks:
        callback_inputs(inputs)
        return None
    return plan_kickoff(crew, inputs)


def precheck_kickoffs(
    crew: Crew, many_inputs: Sequence[Any]
) -> list[tuple[dict[str, Any], list[TaskPlan]] | None]:
    """:func:`precheck_kickoff` for each of *many_inputs*, with one :class:`Planner`.

    Raises:
        InvalidInputError: for malformed inputs or a missing placeholder.
    """
    if crew.before_kickoff_callbacks:
        for inputs in many_inputs:
            callback_inputs(inputs)
        return [None] * len(many_inputs)
    planned: list[tuple[dict[str, Any], list[TaskPlan]] | None] = []
    planner: Planner | None = None
    for inputs in many_inputs:
        checked = validate_inputs(inputs)  # as in plan_kickoff: the inputs first
        planner = planner or Planner(crew)
        planned.append((checked, planner.plan(checked)))
    return planned


def run_crew(
    crew: Crew,
    inputs: Any,
    router: runtime.Router,
    on_open: runtime.OnOpen | None = None,
    *,
    planned: tuple[dict[str, Any], list[TaskPlan]] | None = None,
    record: KickoffRecord | None = None,
    on_record: Callable[[KickoffRecord], None] | None = None,
    task_group: anyio.abc.TaskGroup | None = None,
    loop_token: anyio.lowlevel.EventLoopToken | None = None,
) -> Coroutine[Any, Any, CrewOutput]:
    """Kick *crew* off with *inputs* in a new run (or as a child of the current run).

    *on_open* lets a stream session subscribe to the run's pipe before its first
    event; the LLM calls of a streamed run stream their tokens. *planned* is the
    result of :func:`plan_kickoff` for these inputs, when the caller has it already.
    *record* is a replay's: the plan, with the restored outputs filled in.
    *on_record* is called with the kickoff's record (its outputs and durations).
    *task_group* is the caller's, for the run's event consumers, and *loop_token*
    its loop's (see :func:`runtime.open_run`).

    Plans before it returns the run's coroutine, so bad inputs raise here, before
    anything is awaited.
    """
    body: Any
    if record is not None:
        # A replay: its plan and restored outputs are fixed, and the inputs are the
        # stored ones (already through any before-kickoff callbacks).
        body = partial(_execute_crew, crew, record.inputs, record.plans, record)
    elif crew.before_kickoff_callbacks:
        body = partial(_prepare_and_execute, crew, callback_inputs(inputs), on_record)
    else:
        checked, plans = planned or plan_kickoff(crew, inputs)
        record = KickoffRecord(crew, checked, plans)
        body = partial(_execute_crew, crew, checked, plans, record)
    if on_record is not None and record is not None:
        on_record(record)
    if on_open is None:
        return runtime.open_run(body, router=router, task_group=task_group, loop_token=loop_token)
    return _open_streamed_run(body, router, on_open)


async def _open_streamed_run(body: Any, router: runtime.Router, on_open: runtime.OnOpen) -> Any:
    with streaming_tokens():
        return await runtime.open_run(body, router=router, on_open=on_open)


async def _prepare_and_execute(
    crew: Crew,
    inputs: dict[str, Any],
    on_record: Callable[[KickoffRecord], None] | None,
    run: runtime.Run,
) -> CrewOutput:
    """Run the before-kickoff callbacks, plan with the inputs they return, then execute.

    As in CrewAI the callbacks come before CrewKickoffStartedEvent, which carries the
    inputs they returned; a callback that raises (or returns unusable inputs) emits
    CrewKickoffFailedEvent, a cancellation CrewKickoffCancelledEvent.
    """
    try:
        checked, plans = plan_kickoff(crew, await before_kickoff(crew, inputs))
    except anyio.get_cancelled_exc_class():
        await emit_shielded(crew, CrewKickoffCancelledEvent(crew_name=crew.name))
        raise
    except Exception as exc:
        await emit(crew, CrewKickoffFailedEvent(crew_name=crew.name, error=describe_error(exc)))
        raise
    record = KickoffRecord(crew, checked, plans)
    if on_record is not None:
        on_record(record)
    return await _execute_crew(crew, checked, plans, record, run)


async def _execute_crew(
    crew: Crew,
    inputs: dict[str, Any],
    plans: list[TaskPlan],
    record: KickoffRecord,
    run: runtime.Run,
) -> CrewOutput:
    record.start(run)
    usage = UsageMetrics()
    if crew.verbose:
        say(f"crew {crew.name!r} started with {len(plans)} task(s)")
    started_id = (
        unheard_id(CrewKickoffStartedEvent)
        or (await emit(crew, CrewKickoffStartedEvent(crew_name=crew.name, inputs=inputs))).event_id
    )
    try:
        # The step carries the crew's usage counts. The crew's other context
        # variables, those that apply to it, are set with it in one block: a run
        # keeps one token each for them rather than a context manager each.
        step = crew_step(crew, started_id, usage)
        others = (
            # Usage counts and the cache are shared by the crew's tool calls: only
            # bound when some task has tools.
            tool_state(crew.cache) if _uses_tools(plans) else None,
            # Reading a pydantic private attribute costs microseconds: only if set.
            rate_limited(crew._rpm) if crew.max_rpm is not None else None,
            crew_callbacks(crew.task_callback, crew.step_callback),
        )
        with runtime.bind_all(step, *others) if any(others) else step:
            # Tasks whose output is in the record already (restored by a replay)
            # do not run.
            todo = _still_to_run(plans, record) if record.restored else plans
            if _any_async(todo):
                await _execute_with_async_tasks(todo, crew.verbose, record)
            else:  # all synchronous, run here: no task group, no coroutine level
                # By index: a list iterator would be one more object per kickoff for
                # the garbage collector to track.
                for index in range(len(todo)):
                    plan = todo[index]
                    await _perform_in_order(plan, _context_of(plan, ()), crew.verbose, record)
            outputs = [output for output in record.outputs if output is not None]
            assert len(outputs) == len(plans)
            last = _final_output(outputs)
            result = CrewOutput(
                raw=last.raw,
                pydantic=last.pydantic,
                json_dict=last.json_dict,
                tasks_output=outputs,
                token_usage=usage,
            )
            if crew.after_kickoff_callbacks:
                result = await after_kickoff(crew, result)
            # Only a storing record has work to do: on the way out of a completed
            # kickoff (every kickoff's path) the others cost no coroutine.
            if record.storing:
                await record.finish("completed")
    except anyio.get_cancelled_exc_class():
        await record.finish("cancelled")
        await emit_shielded(
            crew, CrewKickoffCancelledEvent(crew_name=crew.name, started_event_id=started_id)
        )
        raise
    except Exception as exc:
        await record.finish("failed", describe_error(exc))
        await emit(
            crew,
            CrewKickoffFailedEvent(
                crew_name=crew.name, error=describe_error(exc), started_event_id=started_id
            ),
        )
        raise
    if runtime.wants(CrewKickoffCompletedEvent):
        await emit(
            crew,
            CrewKickoffCompletedEvent(
                crew_name=crew.name,
                output=result,
                total_tokens=usage.total_tokens,
                started_event_id=started_id,
            ),
        )
    crew.usage_metrics = usage
    if crew.verbose:
        say(f"crew {crew.name!r} finished: {clip(result.raw)}")
    return result


def _still_to_run(plans: list[TaskPlan], record: KickoffRecord) -> list[TaskPlan]:
    """The plans whose output a replay did not restore."""
    return [plan for plan in plans if record.outputs[plan.index] is None]


# These two are loops rather than any() over a generator: every kickoff asks both.
def _uses_tools(plans: list[TaskPlan]) -> bool:
    """Whether any task may call a tool (its own tools, or its agent's)."""
    for plan in plans:  # noqa: SIM110
        if plan.tools if plan.tools is not None else plan.agent.tools:
            return True
    return False


def _any_async(plans: list[TaskPlan]) -> bool:
    """Whether any of *plans* is an async task."""
    for plan in plans:  # noqa: SIM110
        if plan.task.async_execution:
            return True
    return False


def _final_output(outputs: list[TaskOutput]) -> TaskOutput:
    """The crew's result: the last task output that is not empty (a skipped task's is)."""
    last = outputs[-1]
    if last.raw:  # nearly always: no generator
        return last
    return next((output for output in reversed(outputs) if output.raw), last)


def _context_text(outputs: Sequence[TaskOutput | None], indices: Sequence[int]) -> str:
    if not indices:  # a crew's first task: no generator
        return ""
    return _CONTEXT_SEPARATOR.join(
        output.raw for i in indices if (output := outputs[i]) is not None and output.raw
    )


def _context_of(plan: TaskPlan, running: Sequence[int]) -> tuple[int, ...]:
    """The tasks whose outputs *plan* sees.

    Its explicit context, else every earlier task except async tasks still running
    beside it (a synchronous task waits for those first, so it sees all of them).
    """
    if plan.context is not None:
        return plan.context
    if not running:  # no async task beside it (every task of most crews)
        return tuple(range(plan.index))
    return tuple(index for index in range(plan.index) if index not in running)


async def _execute_with_async_tasks(
    todo: list[TaskPlan], verbose: bool, record: KickoffRecord
) -> None:
    """Run the tasks in order; async ones as child tasks, joined by the next sync one."""
    finished = {plan.index: anyio.Event() for plan in todo if plan.task.async_execution}
    pending: list[int] = []

    async def run_async(plan: TaskPlan, context: tuple[int, ...]) -> None:
        for index in context:
            if index in finished:
                await finished[index].wait()
        await _perform(plan, context, verbose, record)
        finished[plan.index].set()

    try:
        async with anyio.create_task_group() as tg:
            for plan in todo:
                if plan.task.async_execution:
                    context = _context_of(plan, pending)
                    tg.start_soon(run_async, plan, context, name=f"task {plan.task_name}")
                    pending.append(plan.index)
                    continue
                for index in pending:
                    await finished[index].wait()
                pending.clear()
                await _perform_in_order(plan, _context_of(plan, pending), verbose, record)
    except BaseExceptionGroup as group:
        raise runtime.unwrap_group(group) from None


def _perform_in_order(
    plan: TaskPlan, context: tuple[int, ...], verbose: bool, record: KickoffRecord
) -> Awaitable[None]:
    # Earlier tasks are all done here: a ConditionalTask is never async and the
    # async tasks before a synchronous one are joined first.
    if isinstance(plan.task, ConditionalTask):
        return _perform_conditional(plan, context, verbose, record)
    return _perform(plan, context, verbose, record)


async def _perform_conditional(
    plan: TaskPlan, context: tuple[int, ...], verbose: bool, record: KickoffRecord
) -> None:
    """Check a ConditionalTask's condition, then perform or skip it."""
    previous = record.outputs[plan.index - 1]
    assert previous is not None
    if await _check_condition(plan, previous):
        await _perform(plan, context, verbose, record)
    else:
        record.outputs[plan.index] = await _skip_task(plan, verbose)


async def _perform(
    plan: TaskPlan, indices: tuple[int, ...], verbose: bool, record: KickoffRecord
) -> None:
    """Run one task with the outputs of the tasks at *indices* as its context.

    Its output and duration go into *record*.
    """
    began = time.perf_counter()
    context = _context_text(record.outputs, indices)
    task = plan.task
    task_id, task_name = task._id_text, plan.task_name
    verbose = verbose or plan.agent.verbose
    if verbose:
        say(f"task {task_name!r} started by {plan.persona.role!r}")
    # The task's own events are labelled here and emitted around its step; inside
    # it, events carry its labels and nest under its started event (one span).
    started_id = (
        unheard_id(TaskStartedEvent)
        or (
            await emit(
                task,
                TaskStartedEvent(task_id=task_id, task_name=task_name, context=context or None),
            )
        ).event_id
    )
    try:
        entered = runtime.enter_span(task_step(task_id, task_name, task, started_id))
        try:
            # The public fields, not guardrail_checks: a pydantic private attribute
            # costs microseconds to read.
            if task.guardrail is not None or task.guardrails or task.human_input:
                output = await produce_output(plan, context, verbose)
            else:  # the agent's answer as it stands: one coroutine less
                output = task_output(plan, await agent_answer(plan, context, None))
            if has_after_task(task, plan.output_file):
                await after_task(task, output, plan.output_file)
        finally:
            runtime.leave_span(entered)
    except anyio.get_cancelled_exc_class():
        await emit_shielded(
            task,
            TaskCancelledEvent(started_event_id=started_id, task_id=task_id, task_name=task_name),
        )
        raise
    except Exception as exc:
        await emit(
            task,
            TaskFailedEvent(
                error=describe_error(exc),
                started_event_id=started_id,
                task_id=task_id,
                task_name=task_name,
            ),
        )
        raise
    task.output = record.outputs[plan.index] = output
    record.durations[plan.index] = time.perf_counter() - began
    if verbose:
        say(f"task {task_name!r} finished: {clip(output.raw)}")
    if runtime.wants(TaskCompletedEvent):
        await emit(
            task,
            TaskCompletedEvent(
                output=output, started_event_id=started_id, task_id=task_id, task_name=task_name
            ),
        )


async def _check_condition(plan: TaskPlan, previous: TaskOutput) -> bool:
    """Whether a ConditionalTask runs; a condition that raises fails the task."""
    task = plan.task
    assert isinstance(task, ConditionalTask)
    try:
        return bool(await _call_user(task.condition, previous))
    except Exception as exc:
        exc.add_note(f"raised by the condition of task {task.display_name!r}")
        with step_context(task_id=str(task.id), task_name=task.display_name):
            await emit(task, TaskFailedEvent(error=describe_error(exc)))
        raise


async def _skip_task(plan: TaskPlan, verbose: bool) -> TaskOutput:
    """Give a ConditionalTask whose condition was false its empty output."""
    task = plan.task
    assert isinstance(task, ConditionalTask)
    output = task.get_skipped_task_output().model_copy(
        update={"description": plan.description, "expected_output": plan.expected_output}
    )
    task.output = output
    if verbose or plan.agent.verbose:
        say(f"task {task.display_name!r} skipped: its condition is false")
    with step_context(task_id=str(task.id), task_name=task.display_name):
        await emit(task, TaskSkippedEvent(output=output))
    return output
