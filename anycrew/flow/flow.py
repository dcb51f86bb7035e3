"""Flow: methods wired by @start/@listen/@router, run with structured concurrency."""

from __future__ import annotations

import inspect
import logging
import os
import threading
import typing
import uuid
from collections.abc import Callable, Mapping
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import anyio
import anyio.abc
import anyio.to_thread
from pydantic import BaseModel, Field, ValidationError, create_model

from .. import runtime
from .._interpolate import validate_inputs
from .._user_code import call_user
from ..errors import InvalidInputError
from ..events._emit import emit, emit_shielded
from ..events.bus import event_bus
from ..events.flow_events import (
    FlowCancelledEvent,
    FlowCreatedEvent,
    FlowFailedEvent,
    FlowFinishedEvent,
    FlowPausedEvent,
    FlowStartedEvent,
    MethodExecutionCancelledEvent,
    MethodExecutionFailedEvent,
    MethodExecutionFinishedEvent,
    MethodExecutionPausedEvent,
    MethodExecutionStartedEvent,
)
from ..llms._invoke import describe_error
from ..streaming.sessions import AsyncStreamSession, StreamSession
from ._progress import (
    FlowRun,
    Listener,
    Resume,
    completion_record,
    first_pending,
    saved_feedback,
)
from ._saving import feedback_store, hydrate, persist_store, rebuild_paused, save_pause
from .async_feedback.types import HumanFeedbackPending, PendingFeedbackContext
from .decorators import Condition
from .human_feedback import HumanFeedbackConfig, HumanFeedbackResult, review_output
from .persistence import FlowPersistence

StateT = TypeVar("StateT")

logger = logging.getLogger("anycrew.flow")

#: The default bound on how often one method may run in a kickoff (cycles).
DEFAULT_MAX_METHOD_CALLS = 100


def _with_id(model: type[BaseModel]) -> type[BaseModel]:
    """*model*, or a subclass of it with an ``id: str`` field when it has none."""
    if "id" in model.model_fields:
        return model
    return create_model(
        model.__name__,
        __base__=model,
        __module__=model.__module__,
        id=(str, Field(default_factory=lambda: str(uuid.uuid4()))),
    )


def _check_sources(restore_from_state_id: str | None, from_checkpoint: Any) -> None:
    if restore_from_state_id is not None and from_checkpoint is not None:
        raise ValueError(
            "restore_from_state_id and from_checkpoint are both set; choose one source "
            "to hydrate the flow from"
        )
    if from_checkpoint is not None:
        # CrewAI's from_checkpoint restores a file written by its separate checkpointing
        # system (Flow(checkpoint=CheckpointConfig(...))), which anycrew does not have;
        # @persist snapshots already give the two things it is used for.
        raise NotImplementedError(
            "from_checkpoint restores a CrewAI checkpoint (CheckpointConfig(restore_from=...)), "
            "and anycrew has no checkpoint files; with @persist, resume an unfinished run "
            "after its last completed method with inputs={'id': ...}, or fork a saved state "
            "with restore_from_state_id=..."
        )


class Flow(Generic[StateT]):
    """A set of methods wired by ``@start``, ``@listen`` and ``@router``.

    Subclass it as ``class MyFlow(Flow[MyState])`` (a pydantic model, given an ``id``
    field if it lacks one) or ``Flow[dict]`` (or no parameter: a dict with an
    ``"id"``). Kicking it off runs every start method; when a method finishes, the
    listeners it triggers run, concurrently, as child tasks of the flow's run.
    Async methods run on the run's loop, sync ones in worker threads. If one
    method fails, the others are cancelled and the failure is raised. A router's
    return value (a str or an Enum) is a label that listeners can wait for.

    Concurrent listeners share ``self.state``: read-modify-write it under ``async
    with self.state_lock:`` in async methods, and under ``with
    self.state_thread_lock:`` in sync ones (never both in one method).

    A method decorated with ``@human_feedback`` has its output reviewed before its
    listeners run; a provider may pause the flow, which :meth:`from_pending` and
    :meth:`resume` continue later.

    Args:
        stream: ``kickoff()`` returns a StreamSession of the run's frames.
        max_method_calls: how often one method may run in one kickoff, bounding
            cycles; past it the run fails with RecursionError.
    """

    _starts: ClassVar[list[str]] = []
    _listeners: ClassVar[dict[str, Condition]] = {}
    _routers: ClassVar[frozenset[str]] = frozenset()
    _takes_input: ClassVar[frozenset[str]] = frozenset()
    _state_type: ClassVar[type[BaseModel] | None] = None
    _persisted: ClassVar[dict[str, Any]] = {}
    _feedback: ClassVar[dict[str, HumanFeedbackConfig]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        starts, listeners, routers, takes_input = [], {}, set(), set()
        persisted: dict[str, Any] = {}
        feedback: dict[str, HumanFeedbackConfig] = {}
        for name in dir(cls):
            method = getattr(cls, name, None)
            if not callable(method) or name.startswith("__"):
                continue
            if getattr(method, "__flow_start__", False):
                starts.append(name)
            trigger = getattr(method, "__flow_trigger__", None)
            if trigger is not None:
                listeners[name] = trigger
            if getattr(method, "__flow_router__", False):
                routers.add(name)
            marker = getattr(method, "__flow_persist__", None)
            if marker is not None:
                persisted[name] = marker
            review = getattr(method, "__flow_feedback__", None)
            if isinstance(review, HumanFeedbackConfig):
                if name not in starts and trigger is None:
                    raise TypeError(
                        f"{cls.__name__}.{name} has @human_feedback but never runs: "
                        "make it a @start() or @listen(...) method"
                    )
                feedback[name] = review
            if name in starts or trigger is not None:
                parameters = list(inspect.signature(method).parameters)[1:]
                if parameters:
                    takes_input.add(name)
        cls._starts, cls._listeners = starts, listeners
        cls._routers, cls._takes_input = frozenset(routers), frozenset(takes_input)
        cls._persisted = persisted
        cls._feedback = feedback
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is Flow:
                (argument,) = typing.get_args(base)
                if isinstance(argument, type) and issubclass(argument, BaseModel):
                    cls._state_type = _with_id(argument)

    def __init__(
        self,
        *,
        stream: bool = False,
        max_method_calls: int = DEFAULT_MAX_METHOD_CALLS,
        persistence: FlowPersistence | None = None,
    ) -> None:
        if not type(self)._starts:
            raise TypeError(f"{type(self).__name__} has no @start() method: give it one")
        if max_method_calls < 1:
            raise ValueError(f"max_method_calls must be at least 1, got {max_method_calls}")
        self.stream = stream
        self.max_method_calls = max_method_calls
        self._persistence = persistence
        self._state: Any = self._fresh_state()
        self.method_outputs: list[Any] = []
        #: Every review of this run (a resumed run includes the earlier ones).
        self.human_feedback_history: list[HumanFeedbackResult] = []
        #: The latest review, or None.
        self.last_human_feedback: HumanFeedbackResult | None = None
        self._pending: Resume | None = None
        self.state_thread_lock = threading.Lock()
        # Replaced at the start of every run: an anyio lock belongs to one event loop.
        self.state_lock = anyio.Lock()
        # FlowCreatedEvent opens the flow's first run rather than being emitted here:
        # a flow is often built inside async code, where a sync emit could not await
        # the async handlers.
        self._announced = False

    @property
    def name(self) -> str:
        """The flow's name: its class name."""
        return type(self).__name__

    @property
    def state(self) -> StateT:
        """The flow's state (a pydantic model or a dict)."""
        return self._state  # type: ignore[no-any-return]

    @property
    def flow_id(self) -> str:
        """The state's id."""
        state = self._state
        return str(state["id"] if isinstance(state, dict) else state.id)

    def _fresh_state(self) -> Any:
        model = type(self)._state_type
        return model() if model is not None else {"id": str(uuid.uuid4())}

    def _apply_inputs(self, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
        """Merge *inputs* into the state, validating them first (nothing runs on error)."""
        checked = validate_inputs(inputs)
        if not checked:
            return checked
        state = self._state
        if isinstance(state, dict):
            state.update(checked)
            return checked
        try:
            self._state = type(state).model_validate({**state.model_dump(), **checked})
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            raise InvalidInputError(
                f"inputs for {self.name} do not fit its state {type(state).__name__} "
                f"(field {fields}): {exc.errors()[0]['msg']}"
            ) from None
        return checked

    def plot(self, filename: str | os.PathLike[str] = "crewai_flow.html") -> Path:
        """Draw the flow's graph to a self-contained HTML file and return its path."""
        from ..events.flow_events import FlowPlotEvent
        from .plot import plot_flow

        path = plot_flow(type(self), filename)
        event_bus.emit(self, FlowPlotEvent(flow_name=self.name, filename=str(path)))
        return path

    # -- entries ------------------------------------------------------------------------

    async def akickoff(
        self,
        inputs: Mapping[str, Any] | None = None,
        restore_from_state_id: str | None = None,
        from_checkpoint: Any = None,
    ) -> Any:
        """Run the flow in the caller's task and return the last method's output.

        With ``@persist``: ``inputs={"id": X}`` resumes X (its latest saved state,
        saving on under X). If X's latest run did not finish (the process died, a
        method failed, the run was cancelled), the resumed run continues after the
        calls that run completed: they are not called again, their saved outputs
        (as JSON data) trigger their listeners and routers' saved labels pick the
        same branches. ``restore_from_state_id=S`` forks S (its latest state, saved
        from now on under a fresh id, or ``inputs["id"]`` if given). An unknown id
        starts afresh (logged).

        If a ``@human_feedback`` provider pauses the flow, the pause is saved and the
        ``HumanFeedbackPending`` is returned, not raised; see :meth:`from_pending`.

        Raises:
            ValueError: both ``restore_from_state_id`` and ``from_checkpoint`` given.
            NotImplementedError: ``from_checkpoint`` (CrewAI's checkpoint files).
            InvalidInputError: inputs that do not fit the state (before any method).
            PersistenceError: a saved state or run progress is unreadable.
        """
        _check_sources(restore_from_state_id, from_checkpoint)
        return await self._start_run(inputs, restore_from_state_id, None)

    def kickoff(
        self,
        inputs: Mapping[str, Any] | None = None,
        restore_from_state_id: str | None = None,
        from_checkpoint: Any = None,
    ) -> Any:
        """Run the flow from synchronous code (a StreamSession with ``stream=True``)."""
        _check_sources(restore_from_state_id, from_checkpoint)
        if self.stream:
            return StreamSession(partial(self._start_run, inputs, restore_from_state_id))
        return runtime.run_blocking(
            self._start_run, inputs, restore_from_state_id, None, async_name="akickoff"
        )

    async def kickoff_async(
        self,
        inputs: Mapping[str, Any] | None = None,
        restore_from_state_id: str | None = None,
        from_checkpoint: Any = None,
    ) -> Any:
        """Run ``kickoff`` in a worker thread (the thread shim) and await its output."""
        _check_sources(restore_from_state_id, from_checkpoint)
        return await runtime.run_in_worker(
            self._start_run,
            inputs,
            restore_from_state_id,
            None,
            backend=runtime.current_backend(),
        )

    def stream_events(self, inputs: Mapping[str, Any] | None = None) -> StreamSession:
        """A session streaming a run's frames; its ``result`` is the flow's output."""
        return StreamSession(partial(self._start_run, inputs, None))

    def astream(self, inputs: Mapping[str, Any] | None = None) -> AsyncStreamSession:
        """The async form of :meth:`stream_events` (use ``async with``)."""
        return AsyncStreamSession(partial(self._start_run, inputs, None))

    # -- human feedback: pausing and resuming --------------------------------------------

    @property
    def pending_feedback(self) -> PendingFeedbackContext | None:
        """The feedback this flow waits for (after a pause or ``from_pending``), or None."""
        return self._pending.pending if self._pending is not None else None

    @classmethod
    def from_pending(
        cls, flow_id: str, persistence: FlowPersistence | None = None, **kwargs: Any
    ) -> Flow[Any]:
        """Rebuild a flow paused for human feedback, ready for :meth:`resume`.

        The state is restored as it was when the flow paused; the methods it had
        completed will not run again.

        Args:
            flow_id: the paused flow's id (``pending.context.flow_id``).
            persistence: where the pause was saved; default: the class's
                ``@persist`` store, else the default SQLite file.
            **kwargs: passed to the flow's constructor.

        Raises:
            ValueError: nothing waits for feedback under *flow_id* in that store.
            PersistenceError: the saved record is unreadable.
        """
        store = persistence if persistence is not None else feedback_store(cls)
        record = runtime.run_blocking(
            store.load_pending_feedback,
            flow_id,
            entry_name="from_pending",
            async_name="afrom_pending",
        )
        return rebuild_paused(cls, flow_id, record, store, kwargs)

    @classmethod
    async def afrom_pending(
        cls, flow_id: str, persistence: FlowPersistence | None = None, **kwargs: Any
    ) -> Flow[Any]:
        """The async form of :meth:`from_pending` (for code running on an event loop)."""
        store = persistence if persistence is not None else feedback_store(cls)
        record = await store.load_pending_feedback(flow_id)
        return rebuild_paused(cls, flow_id, record, store, kwargs)

    def resume(self, feedback: str = "") -> Any:
        """Deliver *feedback* to the paused method and run the flow on to its end.

        The paused method's routing and listeners run; methods completed before the
        pause do not run again. Returns the flow's output, or a new
        ``HumanFeedbackPending`` if the flow pauses again.

        Raises:
            ValueError: the flow waits for no feedback (use :meth:`from_pending`).
            TypeError: *feedback* is not a str.
        """
        self._check_resumable(feedback)
        return runtime.run_blocking(
            self.resume_async, feedback, entry_name="resume", async_name="resume_async"
        )

    async def resume_async(self, feedback: str = "") -> Any:
        """The async form of :meth:`resume`: runs in the caller's task."""
        pending = self._check_resumable(feedback)
        resume = Resume(pending.run_id, pending.completed, pending.store, pending.pending, feedback)
        return await runtime.open_run(
            partial(self._run, {}, resume), router=event_bus.active_registry()
        )

    def _check_resumable(self, feedback: object) -> Resume:
        if self._pending is None or self._pending.pending is None:
            raise ValueError(
                f"{self.name} (flow {self.flow_id!r}) waits for no human feedback: restore "
                f"a paused flow with {self.name}.from_pending(flow_id) first"
            )
        if not isinstance(feedback, str):
            raise TypeError(f"feedback must be a str, got {type(feedback).__name__}")
        return self._pending

    async def _start_run(
        self,
        inputs: Mapping[str, Any] | None,
        restore: str | None,
        on_open: runtime.OnOpen | None,
    ) -> Any:
        resume = await hydrate(self, inputs, restore)
        checked = self._apply_inputs(inputs)
        return await runtime.open_run(
            partial(self._run, checked, resume), router=event_bus.active_registry(), on_open=on_open
        )

    # -- the run --------------------------------------------------------------------------

    async def _run(self, inputs: dict[str, Any], resume: Resume | None, _run: runtime.Run) -> Any:
        self.state_lock = anyio.Lock()
        self.method_outputs = []
        self.human_feedback_history = []
        self.last_human_feedback = None
        if not self._announced:
            self._announced = True
            await emit(self, FlowCreatedEvent(flow_name=self.name))
        started = await emit(self, FlowStartedEvent(flow_name=self.name, inputs=inputs))
        try:
            with runtime.span(started.event_id):
                async with anyio.create_task_group() as tg:
                    listeners = {n: Listener(c) for n, c in type(self)._listeners.items()}
                    flow_run = FlowRun(tg, listeners, resume.run_id if resume else uuid.uuid4().hex)
                    # Records are only ever read back from a save or a pause.
                    cls = type(self)
                    flow_run.recording = bool(
                        cls._persisted or cls._feedback or hasattr(cls, "__flow_persist_all__")
                    )
                    if resume is not None:
                        flow_run.resume_from(resume)
                    for name in type(self)._starts:
                        tg.start_soon(
                            self._execute, flow_run, name, None, None, flow_run.next_order()
                        )
        except anyio.get_cancelled_exc_class():
            await emit_shielded(
                self, FlowCancelledEvent(flow_name=self.name, started_event_id=started.event_id)
            )
            raise
        except BaseException as exc:
            pending = first_pending(exc)
            error = runtime.unwrap_group(exc) if isinstance(exc, BaseExceptionGroup) else exc
            if pending is not None:
                return await self._pause(flow_run, pending, started.event_id)
            await emit(
                self,
                FlowFailedEvent(
                    flow_name=self.name,
                    error=describe_error(error),
                    started_event_id=started.event_id,
                ),
            )
            if error is exc:
                raise
            raise error from None
        if flow_run.pause is not None:
            return await self._pause(flow_run, flow_run.pause, started.event_id)
        for store in flow_run.stores:
            await store.mark_finished(self.flow_id, flow_run.progress())
        if flow_run.feedback_delivered:
            # Only now: a resume that failed after the feedback can be retried.
            if flow_run.pending_store is not None:
                await flow_run.pending_store.clear_pending_feedback(self.flow_id)
            self._pending = None
        result = flow_run.last_output
        await emit(
            self,
            FlowFinishedEvent(
                flow_name=self.name, result=result, started_event_id=started.event_id
            ),
        )
        return result

    async def _pause(
        self, flow_run: FlowRun, pending: HumanFeedbackPending, started_event_id: str
    ) -> HumanFeedbackPending:
        """Save what the paused flow needs to resume, announce it, and return *pending*.

        A pause that cannot be saved fails the flow (FlowFailedEvent) with that error.
        """
        try:
            state = await save_pause(self, flow_run, pending)
        except Exception as failure:
            await emit(
                self,
                FlowFailedEvent(
                    flow_name=self.name,
                    error=describe_error(failure),
                    started_event_id=started_event_id,
                ),
            )
            raise
        context = pending.context
        await emit(
            self,
            FlowPausedEvent(
                flow_name=self.name,
                flow_id=self.flow_id,
                method_name=context.method_name,
                message=context.message,
                state=state,
                emit=context.emit,
                started_event_id=started_event_id,
            ),
        )
        return pending

    async def _execute(
        self, flow_run: FlowRun, name: str, argument: Any, triggered_by: str | None, order: int
    ) -> None:
        flow_run.calls[name] += 1
        if flow_run.calls[name] > self.max_method_calls:
            raise RecursionError(
                f"flow method {name!r} of {self.name} ran more than max_method_calls="
                f"{self.max_method_calls} times in one kickoff; check the cycle that leads "
                "back to it, or raise max_method_calls"
            )
        replayed = flow_run.replay.get(name)
        if replayed:  # completed by the run this one resumes: reuse its record
            await self._replay(flow_run, replayed.popleft(), order)
            return
        review = type(self)._feedback.get(name)
        if (
            flow_run.feedback is not None
            and review is not None
            and flow_run.feedback[0].method_name == name
        ):
            await self._deliver_feedback(flow_run, name, review, order)
            return
        started = await emit(
            self,
            MethodExecutionStartedEvent(
                flow_name=self.name, method_name=name, triggered_by_event_id=triggered_by
            ),
        )
        feedback: HumanFeedbackResult | None = None
        try:
            with runtime.span(started.event_id):
                result = await self._call(name, argument)
                if review is not None:
                    feedback = await review_output(self, name, review, result)
        except anyio.get_cancelled_exc_class():
            await emit_shielded(
                self,
                MethodExecutionCancelledEvent(
                    flow_name=self.name, method_name=name, started_event_id=started.event_id
                ),
            )
            raise
        except HumanFeedbackPending as pending:
            await emit(
                self,
                MethodExecutionPausedEvent(
                    flow_name=self.name,
                    method_name=name,
                    flow_id=self.flow_id,
                    message=pending.context.message,
                    emit=pending.context.emit,
                    started_event_id=started.event_id,
                ),
            )
            # The flow pauses once the methods still running have finished: cancelling
            # them would save their half-done changes to the state and run them again
            # on resume.
            if flow_run.pause is None:
                flow_run.pause = pending
            return
        except Exception as exc:
            await emit(
                self,
                MethodExecutionFailedEvent(
                    flow_name=self.name,
                    method_name=name,
                    error=describe_error(exc),
                    started_event_id=started.event_id,
                ),
            )
            raise
        if feedback is not None:
            result = feedback.outcome if review and review.emit else feedback
        finished = await emit(
            self,
            MethodExecutionFinishedEvent(
                flow_name=self.name,
                method_name=name,
                result=result,
                started_event_id=started.event_id,
            ),
        )
        await self._complete(flow_run, name, result, feedback, order, finished.event_id)

    async def _deliver_feedback(
        self, flow_run: FlowRun, name: str, review: HumanFeedbackConfig, order: int
    ) -> None:
        """Finish the paused method with the feedback a resume brought (it does not rerun)."""
        assert flow_run.feedback is not None
        context, given = flow_run.feedback
        flow_run.feedback = None
        feedback = await review_output(self, name, review, context.method_output, given)
        result = feedback.outcome if review.emit else feedback
        finished = await emit(
            self,
            MethodExecutionFinishedEvent(flow_name=self.name, method_name=name, result=result),
        )
        flow_run.feedback_delivered = True
        await self._complete(flow_run, name, result, feedback, order, finished.event_id)

    async def _replay(self, flow_run: FlowRun, record: dict[str, Any], order: int) -> None:
        """Count a call an earlier run completed as done, and trigger what it triggered."""
        name = record["method"]
        feedback = saved_feedback(record)
        if feedback is not None:
            self.human_feedback_history.append(feedback)
            self.last_human_feedback = feedback
        output = record.get("output")
        self.method_outputs.append(output)
        flow_run.last_output = output
        flow_run.completed.append(record)
        label = record.get("label")
        fired = {name} | ({label} if isinstance(label, str) else set())
        self._trigger(flow_run, fired, order, feedback or output, None)

    async def _complete(
        self,
        flow_run: FlowRun,
        name: str,
        result: Any,
        feedback: HumanFeedbackResult | None,
        order: int,
        event_id: str,
    ) -> None:
        """Record a finished call, save the state if asked, and trigger the listeners."""
        self.method_outputs.append(result)
        flow_run.last_output = result
        label: str | None = None
        if name in type(self)._routers and result is not None:
            label = str(result.value if isinstance(result, Enum) else result)
        if flow_run.recording:
            flow_run.completed.append(completion_record(name, result, label, feedback))
        store = persist_store(self, name)
        if store is not None:
            # The snapshot is taken under the lock, so a later row never holds an
            # older state than an earlier one (parallel methods save concurrently).
            async with flow_run.save_lock:
                await store.save_progress(self.flow_id, name, self._state, flow_run.progress())
            flow_run.uses(store)
        fired = {name} | ({label} if label is not None else set())
        self._trigger(flow_run, fired, order, feedback or result, event_id)

    def _trigger(
        self, flow_run: FlowRun, fired: set[str], order: int, result: Any, event_id: str | None
    ) -> None:
        if flow_run.pause is not None:
            return  # pausing: what this call triggers runs on resume (it is replayed)
        for listener_name, listener in flow_run.listeners.items():
            relevant = fired & listener.condition.names()
            # A run that started before the listener last fired belongs to the cycle
            # the listener already answered (an OR listener fires once per cycle).
            if not relevant or order <= listener.armed_after:
                continue
            listener.seen |= relevant
            if listener.condition.satisfied(listener.seen):
                listener.seen = set()
                listener.armed_after = flow_run.started
                flow_run.task_group.start_soon(
                    self._execute, flow_run, listener_name, result, event_id, flow_run.next_order()
                )

    async def _call(self, name: str, argument: Any) -> Any:
        method: Callable[..., Any] = getattr(self, name)
        args = (argument,) if name in type(self)._takes_input else ()
        return await call_user(method, *args)
