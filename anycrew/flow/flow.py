"""Flow: methods wired by @start/@listen/@router, run with structured concurrency."""

from __future__ import annotations

import inspect
import logging
import os
import threading
import typing
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
from ..errors import InvalidInputError
from ..events._emit import emit, emit_shielded
from ..events.bus import event_bus
from ..events.flow_events import (
    FlowCancelledEvent,
    FlowCreatedEvent,
    FlowFailedEvent,
    FlowFinishedEvent,
    FlowStartedEvent,
    MethodExecutionCancelledEvent,
    MethodExecutionFailedEvent,
    MethodExecutionFinishedEvent,
    MethodExecutionStartedEvent,
)
from ..llms._invoke import describe_error
from ..streaming.sessions import AsyncStreamSession, StreamSession
from .decorators import Condition
from .persistence import FlowPersistence, default_persistence

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


@dataclass
class _Listener:
    condition: Condition
    seen: set[str] = field(default_factory=set)
    armed_after: int = -1  # runs that started before this do not count (an old cycle)


def _check_sources(restore_from_state_id: str | None, from_checkpoint: Any) -> None:
    if restore_from_state_id is not None and from_checkpoint is not None:
        raise ValueError(
            "restore_from_state_id and from_checkpoint are both set; choose one source "
            "to hydrate the flow from"
        )
    if from_checkpoint is not None:
        raise NotImplementedError(
            "from_checkpoint is not supported yet; resume with inputs={'id': ...} or fork "
            "with restore_from_state_id=..."
        )


@dataclass
class _FlowRun:
    """One kickoff's bookkeeping."""

    task_group: anyio.abc.TaskGroup
    listeners: dict[str, _Listener]
    calls: Counter[str] = field(default_factory=Counter)
    started: int = 0
    last_output: Any = None


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        starts, listeners, routers, takes_input = [], {}, set(), set()
        persisted: dict[str, Any] = {}
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
            if name in starts or trigger is not None:
                parameters = list(inspect.signature(method).parameters)[1:]
                if parameters:
                    takes_input.add(name)
        cls._starts, cls._listeners = starts, listeners
        cls._routers, cls._takes_input = frozenset(routers), frozenset(takes_input)
        cls._persisted = persisted
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
        saving on under X); ``restore_from_state_id=S`` forks S (its latest state,
        saved from now on under a fresh id, or ``inputs["id"]`` if given). An unknown
        id starts afresh (logged).

        Raises:
            ValueError: both ``restore_from_state_id`` and ``from_checkpoint`` given.
            InvalidInputError: inputs that do not fit the state (before any method).
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

    def _store(self, method: str | None = None) -> FlowPersistence | None:
        """Where *method*'s completion is saved (any store at all if *method* is None)."""
        cls = type(self)
        marker = cls._persisted.get(method) if method else None
        if marker is None:
            marker = getattr(cls, "__flow_persist_all__", None)
        if marker is None and method is None and cls._persisted:
            marker = next(iter(cls._persisted.values()))
        if marker is None:
            return None
        if isinstance(marker, FlowPersistence):
            return marker
        if self._persistence is None:
            self._persistence = default_persistence()
        return self._persistence

    async def _hydrate(self, inputs: Mapping[str, Any] | None, restore: str | None) -> None:
        store = self._store()
        wanted = dict(inputs or {})
        source = restore if restore is not None else wanted.get("id")
        if source is None:
            return
        snapshot = await store.load_state(str(source)) if store is not None else None
        if snapshot is None:
            if restore is not None:
                logger.info("no saved state for flow %r; %s starts afresh", source, self.name)
            return
        state = self._state
        self._state = (
            type(state).model_validate(snapshot) if isinstance(state, BaseModel) else dict(snapshot)
        )
        if restore is not None:  # a fork: save under a new id, leaving the source alone
            new_id = wanted.get("id") or str(uuid.uuid4())
            if isinstance(self._state, dict):
                self._state["id"] = new_id
            else:
                self._state.id = new_id

    async def _start_run(
        self,
        inputs: Mapping[str, Any] | None,
        restore: str | None,
        on_open: runtime.OnOpen | None,
    ) -> Any:
        await self._hydrate(inputs, restore)
        checked = self._apply_inputs(inputs)
        return await runtime.open_run(
            partial(self._run, checked), router=event_bus.active_registry(), on_open=on_open
        )

    # -- the run --------------------------------------------------------------------------

    async def _run(self, inputs: dict[str, Any], _run: runtime.Run) -> Any:
        self.state_lock = anyio.Lock()
        self.method_outputs = []
        if not self._announced:
            self._announced = True
            await emit(self, FlowCreatedEvent(flow_name=self.name))
        started = await emit(self, FlowStartedEvent(flow_name=self.name, inputs=inputs))
        try:
            with runtime.span(started.event_id):
                async with anyio.create_task_group() as tg:
                    listeners = {n: _Listener(c) for n, c in type(self)._listeners.items()}
                    flow_run = _FlowRun(tg, listeners)
                    for name in type(self)._starts:
                        tg.start_soon(self._execute, flow_run, name, None, None)
        except anyio.get_cancelled_exc_class():
            await emit_shielded(
                self, FlowCancelledEvent(flow_name=self.name, started_event_id=started.event_id)
            )
            raise
        except BaseException as exc:
            error = runtime.unwrap_group(exc) if isinstance(exc, BaseExceptionGroup) else exc
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
        result = flow_run.last_output
        await emit(
            self,
            FlowFinishedEvent(
                flow_name=self.name, result=result, started_event_id=started.event_id
            ),
        )
        return result

    async def _execute(
        self, flow_run: _FlowRun, name: str, argument: Any, triggered_by: str | None
    ) -> None:
        flow_run.calls[name] += 1
        if flow_run.calls[name] > self.max_method_calls:
            raise RecursionError(
                f"flow method {name!r} of {self.name} ran more than max_method_calls="
                f"{self.max_method_calls} times in one kickoff; check the cycle that leads "
                "back to it, or raise max_method_calls"
            )
        flow_run.started += 1
        order = flow_run.started
        started = await emit(
            self,
            MethodExecutionStartedEvent(
                flow_name=self.name, method_name=name, triggered_by_event_id=triggered_by
            ),
        )
        try:
            with runtime.span(started.event_id):
                result = await self._call(name, argument)
        except anyio.get_cancelled_exc_class():
            await emit_shielded(
                self,
                MethodExecutionCancelledEvent(
                    flow_name=self.name, method_name=name, started_event_id=started.event_id
                ),
            )
            raise
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
        finished = await emit(
            self,
            MethodExecutionFinishedEvent(
                flow_name=self.name,
                method_name=name,
                result=result,
                started_event_id=started.event_id,
            ),
        )
        self.method_outputs.append(result)
        flow_run.last_output = result
        store = self._store(name)
        if store is not None:
            await store.save_state(self.flow_id, name, self._state)
        fired = {name}
        if name in type(self)._routers and result is not None:
            fired.add(str(result.value if isinstance(result, Enum) else result))
        self._trigger(flow_run, fired, order, result, finished.event_id)

    def _trigger(
        self, flow_run: _FlowRun, fired: set[str], order: int, result: Any, event_id: str
    ) -> None:
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
                    self._execute, flow_run, listener_name, result, event_id
                )

    async def _call(self, name: str, argument: Any) -> Any:
        method: Callable[..., Any] = getattr(self, name)
        args = (argument,) if name in type(self)._takes_input else ()
        if inspect.iscoroutinefunction(method):
            return await method(*args)
        result = await runtime.run_sync_in_run(method, *args)
        if inspect.isawaitable(result):
            result = await result
        return result
