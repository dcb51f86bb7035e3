"""Crew: agents working through tasks, and the ways to kick it off."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from . import runtime
from ._callbacks import check_callback, check_callbacks
from ._crew_run import TaskPlan, precheck_kickoff, precheck_kickoffs, run_crew
from ._hierarchical import check_crew
from .agent import Agent
from .crews.crew_output import CrewOutput
from .errors import ConfigurationError
from .events.bus import event_bus
from .llm import LLM
from .llms._invoke import streaming_tokens
from .llms.base_llm import BaseLLM
from .process import Process
from .streaming.chunks import CrewStreamingOutput
from .streaming.sessions import AsyncStreamSession, StreamSession
from .task import Task
from .tasks.conditional_task import ConditionalTask
from .tasks.task_output import TaskOutput
from .types.usage_metrics import UsageMetrics

if TYPE_CHECKING:
    from .crews.evaluation import CrewTestResult

Inputs = Mapping[str, Any] | None


class Crew(BaseModel):
    """A team of agents and the tasks they work through.

    Entry points (one engine; they differ only in where its event loop runs):

    * ``await crew.akickoff(inputs)`` runs in the caller's task, under asyncio or trio;
    * ``crew.kickoff(inputs)`` runs on a private event loop in the calling thread (in
      a helper thread if the calling thread already runs a loop);
    * ``await crew.kickoff_async(inputs)`` runs ``kickoff`` in a worker thread;
      cancelling the awaiting task stops the run inside the thread and waits for it.

    The ``*_for_each`` variants run one copy per input concurrently and return the
    results in input order. Concurrent kickoffs of one crew object are independent.

    Processes:

    * ``Process.sequential`` (the default): each task's agent works on it, in order.
      An agent with ``allow_delegation=True`` also gets the "Delegate work to
      coworker" and "Ask question to coworker" tools, whose coworkers are the
      crew's other agents.
    * ``Process.hierarchical``: a manager works on every task. It hands work and
      questions to the crew's agents through the delegation tools (only to the
      task's agent when the task names one) and gives the task's final answer.
      A delegate works as a child of the manager's tool call, in the same run:
      its events nest under the call's, it shares the crew's usage and rate
      limits, and cancelling the crew cancels it.

    Args:
        agents: the crew's agents (in a hierarchical crew: the manager's coworkers).
        tasks: the tasks, in order; in a sequential crew each needs an agent.
        process: ``Process.sequential`` or ``Process.hierarchical``.
        manager_llm: for a hierarchical crew, the model of a default manager ("Crew
            Manager"): an LLM or a model string.
        manager_agent: for a hierarchical crew, your own manager instead: an Agent
            that is not among ``agents`` and has no tools of its own.
        verbose: report the kickoff and each task as they start and finish (logger
            ``anycrew.verbose``; printed to stderr unless logging is configured).
        stream: chunk streaming: the kickoff entries return a CrewStreamingOutput
            that yields StreamChunk objects as the agents' LLMs produce tokens.
        name: used in events.
        max_rpm: the most LLM calls a minute for all the crew's agents together (an
            async token bucket shared by all kickoffs of this crew).
        cache: reuse a tool's result when it is called again with the same
            arguments in the same kickoff (see ``BaseTool.cache_function``).
        task_callback: called with each task's TaskOutput when the task completes,
            after the task's own ``callback`` (once, if both are the same function).
        step_callback: called after each step of every agent that has no
            ``step_callback`` of its own (see ``Agent.step_callback``).
        before_kickoff_callbacks: called in order at the start of every kickoff
            (and of every copy in ``*_for_each``), each with the inputs dict (``{}``
            when there are none); each returns the inputs to use, changed or not
            (None keeps them). The tasks' ``{placeholders}`` are filled from what
            the last one returns, and CrewKickoffStartedEvent carries it.
        after_kickoff_callbacks: called in order at the end of every kickoff, each
            with the CrewOutput; one that returns a CrewOutput replaces the result,
            one that returns None keeps it. They run before
            CrewKickoffCompletedEvent, which carries the final result.
        store_task_outputs: keep the task outputs of each kickoff of two or more tasks
            in the task-output store (SQLite under ``ANYCREW_STORAGE_DIR``), written
            once when the kickoff ends, so that :meth:`replay` can restart from any
            task. ``False`` opts out (so does ``ANYCREW_STORE_TASK_OUTPUTS=0``).

    Every callback may be a sync or an async function. Async ones are awaited on
    every entry point; sync ones run in a worker thread of the run, so one that
    blocks never stalls the event loop (and a ``kickoff()`` inside it nests in the
    run). A callback that raises fails the kickoff with its error
    (CrewKickoffFailedEvent); a cancelled kickoff cancels an async callback at once
    and tells a sync one through ``anycrew.checkpoint()``.

    Raises:
        ConfigurationError: for a hierarchical crew without a manager (or with both
            ``manager_llm`` and ``manager_agent``), a manager that is among
            ``agents`` or has tools, a task whose agent is the manager, or two
            agents with the same role where coworkers are named by role.
        pydantic.ValidationError: for a task without an agent in a sequential
            crew, or whose context names a task that is not earlier in the crew;
            for more than one async task at the end of the crew, an async task
            whose context names an async task running beside it, and a
            ConditionalTask that comes first or is async; for a callback that
            is not a function taking one argument.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, frozen=True)
    name: str = "crew"
    agents: list[Agent] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    process: Process = Process.sequential
    verbose: bool = False
    stream: bool = False
    cache: bool = True
    max_rpm: int | None = Field(default=None, ge=1)
    manager_llm: BaseLLM | None = None
    manager_agent: Agent | None = None
    usage_metrics: UsageMetrics | None = None
    task_callback: Callable[[TaskOutput], Any] | None = None
    step_callback: Callable[[Any], Any] | None = None
    before_kickoff_callbacks: list[Callable[[dict[str, Any]], Any]] = Field(default_factory=list)
    after_kickoff_callbacks: list[Callable[[CrewOutput], Any]] = Field(default_factory=list)
    store_task_outputs: bool = True

    _rpm: runtime.RateLimiter | None = PrivateAttr(default=None)
    _manager: Agent | None = PrivateAttr(default=None)

    if not TYPE_CHECKING:  # keep the signature pydantic's mypy plugin synthesizes

        def __init__(self, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as exc:
                # A ConfigurationError from our own checks is raised as itself.
                errors = exc.errors()
                cause = (errors[0].get("ctx") or {}).get("error") if len(errors) == 1 else None
                if isinstance(cause, ConfigurationError):
                    raise cause from None
                raise

    @field_validator("manager_llm", mode="before")
    @classmethod
    def _model_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return LLM(model=value)
        return value

    def model_post_init(self, context: Any, /) -> None:
        if self.max_rpm is not None:
            self._rpm = runtime.RateLimiter(self.max_rpm)

    @field_validator("task_callback", mode="before")
    @classmethod
    def _check_task_callback(cls, value: Any) -> Any:
        if value is None:
            return None
        return check_callback(value, field="Crew task_callback", argument="the TaskOutput")

    @field_validator("step_callback", mode="before")
    @classmethod
    def _check_step_callback(cls, value: Any) -> Any:
        if value is None:
            return None
        return check_callback(
            value, field="Crew step_callback", argument="an AgentAction or AgentFinish"
        )

    @field_validator("before_kickoff_callbacks", mode="before")
    @classmethod
    def _check_before_kickoff(cls, value: Any) -> Any:
        return check_callbacks(
            value, field="Crew before_kickoff_callbacks", argument="the inputs dict"
        )

    @field_validator("after_kickoff_callbacks", mode="before")
    @classmethod
    def _check_after_kickoff(cls, value: Any) -> Any:
        return check_callbacks(
            value, field="Crew after_kickoff_callbacks", argument="the CrewOutput"
        )

    def __repr__(self) -> str:
        return f"Crew(name={self.name!r}, agents={len(self.agents)}, tasks={len(self.tasks)})"

    @model_validator(mode="after")
    def _check(self) -> Crew:
        if not self.tasks:
            raise ValueError("a crew needs at least one task: pass tasks=[Task(...), ...]")
        self._manager = check_crew(self)
        seen: set[int] = set()
        for position, task in enumerate(self.tasks):
            if task.agent is None and self._manager is None:
                raise ValueError(
                    f"task {position} ({task.display_name!r}) has no agent; a sequential crew "
                    "needs one per task: pass agent=... to the Task (or use "
                    "Process.hierarchical with a manager)"
                )
            for needed in task.context or ():
                if id(needed) not in seen:
                    raise ValueError(
                        f"task {position} ({task.display_name!r}) lists "
                        f"{needed.display_name!r} in its context, but that task does not "
                        "come earlier in this crew"
                    )
            seen.add(id(task))
        _check_async_and_conditional(self.tasks)
        return self

    def _task_indices(self) -> dict[str, int]:
        return {str(task.id): index for index, task in enumerate(self.tasks)}

    def _streaming_output(self, inputs: Inputs, router: runtime.Router) -> CrewStreamingOutput:
        planned = precheck_kickoff(self, inputs)  # bad inputs fail here, not on first read
        return CrewStreamingOutput(
            partial(run_crew, self, inputs, router, planned=planned), self._task_indices()
        )

    async def akickoff(self, inputs: Inputs = None) -> CrewOutput | CrewStreamingOutput:
        """Run the crew natively in the caller's task and return its output.

        With ``Crew(stream=True)`` it returns a CrewStreamingOutput at once, to be
        read with ``async for`` (the run executes on a helper thread).

        Raises:
            InvalidInputError: malformed inputs or a missing placeholder (before any
                work starts).
        """
        router = event_bus.active_registry()
        if self.stream:
            return self._streaming_output(inputs, router)
        return await run_crew(self, inputs, router)

    def kickoff(self, inputs: Inputs = None) -> CrewOutput | CrewStreamingOutput:
        """Run the crew to completion from synchronous code and return its output.

        With ``Crew(stream=True)`` it returns a CrewStreamingOutput at once, to be
        read with ``for``.
        """
        router = event_bus.active_registry()
        if self.stream:
            return self._streaming_output(inputs, router)
        return runtime.run_blocking(run_crew, self, inputs, router)

    async def kickoff_async(self, inputs: Inputs = None) -> CrewOutput | CrewStreamingOutput:
        """Run ``kickoff`` in a worker thread (the thread shim) and await its output.

        The worker's private loop uses the caller's backend; event handlers run there.
        With ``Crew(stream=True)`` it returns a CrewStreamingOutput at once.
        """
        router = event_bus.active_registry()
        if self.stream:
            return self._streaming_output(inputs, router)
        planned = precheck_kickoff(self, inputs)  # bad inputs fail here, not in the thread
        return await runtime.run_in_worker(
            partial(run_crew, planned=planned),
            self,
            inputs,
            router,
            backend=runtime.current_backend(),
        )

    async def areplay(self, task_id: str, inputs: Inputs = None) -> CrewOutput:
        """Run the crew again from the task *task_id*, in the caller's task.

        The tasks before it are not run: their outputs come from the latest stored
        kickoff that has them (kickoffs of crews with two or more tasks are stored
        when they end, completed, failed or cancelled), and the tasks that follow see
        them as context as usual. The replay is a kickoff of its own: it emits the
        usual events (none for the restored tasks), returns a CrewOutput of every
        task, and is stored too, so it can be replayed in turn.

        *task_id* is ``str(task.id)`` of one of this crew's tasks, or a task id listed
        by ``anycrew log-tasks-outputs`` for a crew built the same way in another
        process (the stored task index then picks the task). Replaying the first
        task is kicking the crew off again. A replay returns a CrewOutput even with
        ``Crew(stream=True)``; use the event bus to follow it.

        Args:
            task_id: the task to restart from.
            inputs: the kickoff inputs; ``None`` reuses those of the stored kickoff.

        Raises:
            ReplayError: no stored kickoff has the task (run ``kickoff()`` first), the
                stored kickoff has a different number of tasks, or a stored structured
                output no longer validates against its task's model.
            InvalidInputError: the inputs miss a placeholder.
            TaskOutputStorageError: the store could not be read.
        """
        from .crews._replay import replay_crew

        return await replay_crew(self, task_id, inputs, event_bus.active_registry())

    def replay(self, task_id: str, inputs: Inputs = None) -> CrewOutput:
        """Synchronous :meth:`areplay` (CrewAI's ``crew.replay``), on a private event loop."""
        from .crews._replay import replay_crew

        return runtime.run_blocking(
            replay_crew,
            self,
            task_id,
            inputs,
            event_bus.active_registry(),
            entry_name="replay",
            async_name="areplay",
        )

    async def atest(
        self,
        n_iterations: int,
        eval_llm: str | BaseLLM,
        inputs: Inputs = None,
    ) -> CrewTestResult:
        """Kick the crew off *n_iterations* times and score every task's output.

        After each kickoff, *eval_llm* scores each task's output from 1 to 10 against
        its description and expected output (a structured answer, asked again if it
        does not fit). Emits CrewTestStartedEvent, a CrewTestResultEvent per score,
        then CrewTestCompletedEvent, or CrewTestFailedEvent if a kickoff or a scoring
        raised (the error is then raised). Prints the score table, as CrewAI does,
        and returns it.

        Args:
            n_iterations: how many kickoffs to run, one after another.
            eval_llm: the scoring model: a model string or an LLM object.
            inputs: the kickoff inputs, the same for every run.

        Raises:
            ConfigurationError: *n_iterations* is not a positive int, or *eval_llm* is
                not a model string or an LLM (before anything runs).
            InvalidInputError: the inputs miss a placeholder (before anything runs).
        """
        from .crews.evaluation import evaluate_crew

        result = await evaluate_crew(
            self, n_iterations, eval_llm, inputs, event_bus.active_registry()
        )
        print(result)
        return result

    def test(
        self,
        n_iterations: int,
        eval_llm: str | BaseLLM,
        inputs: Inputs = None,
    ) -> CrewTestResult:
        """Synchronous :meth:`atest` (CrewAI's ``crew.test``), on a private event loop."""
        from .crews.evaluation import evaluate_crew

        result = runtime.run_blocking(
            evaluate_crew,
            self,
            n_iterations,
            eval_llm,
            inputs,
            event_bus.active_registry(),
            entry_name="test",
            async_name="atest",
        )
        print(result)
        return result

    def stream_events(
        self, inputs: Inputs = None, *, buffer_size: int | None = None, keep_frames: bool = True
    ) -> StreamSession:
        """Start a run whose frames you read synchronously, as they happen.

        The run executes on a private loop in a helper thread when the session is
        entered or first read; its LLM calls stream their tokens. Leaving the
        ``with`` block (or ``close()``) before the end cancels the run and waits for
        it. ``result`` is the CrewOutput. See :class:`StreamSession`.

        Raises:
            InvalidInputError: at once, for bad inputs.
        """
        planned = precheck_kickoff(self, inputs)
        start = partial(run_crew, self, inputs, event_bus.active_registry(), planned=planned)
        return StreamSession(start, buffer_size=buffer_size, keep_frames=keep_frames)

    def astream(
        self, inputs: Inputs = None, *, buffer_size: int | None = None, keep_frames: bool = True
    ) -> AsyncStreamSession:
        """Start a run whose frames you read with ``async for``, as they happen.

        ``async with crew.astream(inputs) as stream:`` runs it as a child of the
        current task; leaving the block early cancels it and waits. See
        :class:`AsyncStreamSession`.

        Raises:
            InvalidInputError: at once, for bad inputs.
        """
        planned = precheck_kickoff(self, inputs)
        start = partial(run_crew, self, inputs, event_bus.active_registry(), planned=planned)
        return AsyncStreamSession(start, buffer_size=buffer_size, keep_frames=keep_frames)

    async def akickoff_for_each(
        self, inputs: Sequence[Mapping[str, Any]], max_concurrency: int | None = None
    ) -> list[CrewOutput] | CrewStreamingOutput:
        """Run one copy of the crew per input, concurrently, in one task group.

        Every input is validated before any copy starts. Copies start in input order,
        a batch of 32 at a time with a checkpoint between batches, so a large fan-out
        leaves the event loop free to run other tasks (and the first copies' timers)
        meanwhile. Results come back in input order. On the first failure the other
        copies are cancelled and that failure is raised. With ``Crew(stream=True)``
        it returns one CrewStreamingOutput that merges every copy's chunks; its
        ``results`` are the outputs.

        Args:
            inputs: one mapping per copy.
            max_concurrency: the most copies running at once (default: all).
        """
        router = event_bus.active_registry()
        if self.stream:
            return self._streaming_for_each(inputs, max_concurrency, router)
        return await _for_each(self, inputs, max_concurrency, router)

    def kickoff_for_each(
        self, inputs: Sequence[Mapping[str, Any]], max_concurrency: int | None = None
    ) -> list[CrewOutput] | CrewStreamingOutput:
        """Synchronous :meth:`akickoff_for_each`, on a private event loop."""
        router = event_bus.active_registry()
        if self.stream:
            return self._streaming_for_each(inputs, max_concurrency, router)
        return runtime.run_blocking(
            _for_each,
            self,
            inputs,
            max_concurrency,
            router,
            entry_name="kickoff_for_each",
            async_name="akickoff_for_each",
        )

    async def kickoff_for_each_async(
        self, inputs: Sequence[Mapping[str, Any]], max_concurrency: int | None = None
    ) -> list[CrewOutput] | CrewStreamingOutput:
        """:meth:`kickoff_for_each` in one worker thread (the thread shim)."""
        router = event_bus.active_registry()
        if self.stream:
            return self._streaming_for_each(inputs, max_concurrency, router)
        _check_for_each(self, inputs, max_concurrency)
        return await runtime.run_in_worker(
            _for_each, self, inputs, max_concurrency, router, backend=runtime.current_backend()
        )

    def _streaming_for_each(
        self,
        inputs: Sequence[Mapping[str, Any]],
        max_concurrency: int | None,
        router: runtime.Router,
    ) -> CrewStreamingOutput:
        _check_for_each(self, inputs, max_concurrency)

        async def start(on_open: runtime.OnOpen) -> list[CrewOutput]:
            # One enclosing run, so every copy's events share one stream.
            async def copies(_run: runtime.Run) -> list[CrewOutput]:
                return await _for_each(self, inputs, max_concurrency, router)

            with streaming_tokens():
                return await runtime.open_run(copies, router=router, on_open=on_open)

        return CrewStreamingOutput(start, self._task_indices(), many=True)


def _check_async_and_conditional(tasks: list[Task]) -> None:
    """CrewAI's rules for async and conditional tasks, checked when a crew is built."""
    first = tasks[0]
    if isinstance(first, ConditionalTask):
        raise ValueError(
            f"the first task ({first.display_name!r}) is a ConditionalTask, but a condition "
            "needs the output of a task before it: put another task first"
        )
    for position, task in enumerate(tasks):
        if isinstance(task, ConditionalTask) and task.async_execution:
            raise ValueError(
                f"conditional task {position} ({task.display_name!r}) is async_execution=True; "
                "a condition is checked when the task is reached, so it must run in order: "
                "drop async_execution"
            )
        if not task.async_execution:
            continue
        # The async tasks since the last synchronous one run beside this one.
        beside: set[int] = set()
        for earlier in reversed(tasks[:position]):
            if not earlier.async_execution:
                break
            beside.add(id(earlier))
        for needed in task.context or ():
            if id(needed) in beside:
                raise ValueError(
                    f"async task {position} ({task.display_name!r}) lists async task "
                    f"{needed.display_name!r} in its context, but the two run at the same "
                    "time; put a synchronous task between them or make one of them synchronous"
                )
    trailing = 0
    for task in reversed(tasks):
        if not task.async_execution:
            break
        trailing += 1
    if trailing > 1:
        raise ValueError(
            f"the crew ends with {trailing} async tasks; it may end with at most one, so "
            "that its result is well defined: add a synchronous task after them, or make "
            "all but one of them synchronous"
        )


def _check_for_each(
    crew: Crew, inputs: Any, max_concurrency: int | None
) -> list[tuple[dict[str, Any], list[TaskPlan]] | None]:
    if isinstance(inputs, Mapping) or not isinstance(inputs, Sequence) or isinstance(inputs, str):
        raise ConfigurationError(
            "kickoff_for_each takes a list of input dicts, one per copy of the crew, "
            f"got {type(inputs).__name__}"
        )
    if max_concurrency is not None and (
        not isinstance(max_concurrency, int) or max_concurrency < 1
    ):
        raise ConfigurationError(
            f"max_concurrency must be a positive integer or None, got {max_concurrency!r}"
        )
    return precheck_kickoffs(crew, inputs)


#: Copies ``kickoff_for_each`` starts before it lets the event loop run. Starting
#: 10,000 copies in one go kept the loop busy for seconds (every copy's first step
#: runs before any timer); in batches the loop stays responsive and early copies
#: can finish while later ones start.
_SPAWN_BATCH = 32


async def _for_each(
    crew: Crew,
    inputs: Sequence[Mapping[str, Any]],
    max_concurrency: int | None,
    router: runtime.Router,
) -> list[CrewOutput]:
    planned = _check_for_each(crew, inputs, max_concurrency)
    results: list[CrewOutput | None] = [None] * len(inputs)
    limiter = anyio.CapacityLimiter(max_concurrency) if max_concurrency else None
    failure: list[Exception] = []
    token = anyio.lowlevel.current_token()  # one for every copy's run

    async def one(position: int, item: Mapping[str, Any]) -> None:
        # The copy owns its plan from here: a finished copy's plan is not kept
        # until the last copy is done.
        plan, planned[position] = planned[position], None
        try:
            if limiter is not None:
                await limiter.acquire()
            try:
                # The copies' runs keep their event consumers in this group, not in
                # a group each.
                work = run_crew(crew, item, router, planned=plan, task_group=tg, loop_token=token)
                del plan  # the run has what it needs of it
                results[position] = await work
            finally:
                if limiter is not None:
                    limiter.release()
        except Exception as exc:
            if not failure:
                failure.append(exc)
                tg.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            for position, item in enumerate(inputs):
                tg.start_soon(one, position, item, name=f"{crew.name} copy {position}")
                if position % _SPAWN_BATCH == _SPAWN_BATCH - 1:
                    # Let the copies started so far take their first steps, and the
                    # loop run everything else that is due, before starting more.
                    await anyio.lowlevel.checkpoint()
    except BaseExceptionGroup as group:
        # Only what is not an Exception gets here (KeyboardInterrupt, SystemExit):
        # raised as itself, as a single kickoff raises it, not inside a group.
        raise runtime.unwrap_group(group) from None
    if failure:
        # A cancellation of the caller wins over a copy's failure.
        await anyio.lowlevel.checkpoint_if_cancelled()
        raise failure[0]
    return [result for result in results if result is not None]
