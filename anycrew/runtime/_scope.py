"""Run scopes: every kickoff is a task group with a cancel scope, a run id and a pipe.

:func:`open_run` runs a body inside a fresh run and binds it to a context variable,
so anything inside (an agent step, a tool, an LLM adapter) finds its run with
:func:`current_run` and emits into its pipe with :func:`emit`. A run opened while
another run is current on the same event loop becomes its child: it gets its own
task group and cancel scope but shares the parent's pipe, so the events of a crew
inside a flow nest under the flow's events.

The event in force as "parent" for new events is another context variable, set
with :func:`span`; child tasks inherit it, so spans nest across task boundaries.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._pipe import (
    DEFAULT_BUFFER_SIZE,
    EventPipe,
    OnOpen,
    Router,
    Stampable,
    in_sync_handler,
)
from ._pipe import (
    current_parent as _current_parent,
)

T = TypeVar("T")
V = TypeVar("V")

#: How long cancellation events may take to be accepted by a full pipe.
SHIELDED_EMIT_TIMEOUT = 5.0


@dataclass(eq=False, slots=True)
class Run:
    """One kickoff in progress.

    Attributes:
        run_id: unique id, stamped on every event of the run (and of its children).
        pipe: the run's event pipe (shared with child runs).
        cancel_scope: cancelling it stops the run.
        task_group: where the run's concurrent work lives.
        parent: the enclosing run, if this one was opened inside another.
    """

    run_id: str
    pipe: EventPipe
    cancel_scope: anyio.CancelScope
    task_group: anyio.abc.TaskGroup
    parent: Run | None = None
    thread_id: int = field(default_factory=threading.get_ident)
    token: anyio.lowlevel.EventLoopToken = field(default_factory=anyio.lowlevel.current_token)


_current_run: ContextVar[Run | None] = ContextVar("anycrew_run", default=None)


def current_run() -> Run | None:
    """The run the calling code belongs to, if it is on that run's event loop thread."""
    run = _current_run.get()
    if run is not None and run.thread_id != threading.get_ident():
        return None
    return run


def current_parent_id() -> str | None:
    """The id of the event that new events are nested under."""
    return _current_parent.get()


class bind(Generic[V]):
    """Set a context variable for the duration of a ``with`` block, then reset it.

    A plain object rather than a generator-based context manager: one of these
    lives in every level of every run, and each generator-based one costs three
    objects for the garbage collector to track.
    """

    __slots__ = ("_token", "_value", "_var")

    def __init__(self, var: ContextVar[V], value: V) -> None:
        self._var = var
        self._value = value

    def __enter__(self) -> V:
        self._token = self._var.set(self._value)
        return self._value

    def __exit__(self, *exc_info: object) -> None:
        self._var.reset(self._token)


def span(event_id: str | None) -> bind[str | None]:
    """Nest the events emitted inside the block under the event *event_id*."""
    return bind(_current_parent, event_id)


def emit(source: Any, event: Stampable) -> Coroutine[Any, Any, None]:
    """Emit *event* into the current run's pipe; await the result.

    A plain function handing back the pipe's coroutine: one coroutine less per
    event, on the path every event takes.

    Raises:
        RuntimeError: when no run is current on this thread.
    """
    run = current_run()
    if run is None:
        raise RuntimeError(
            f"{type(event).__name__} was emitted outside of a run; "
            "emit from inside a kickoff, or use event_bus.emit() for standalone events"
        )
    return run.pipe.emit(source, event, _current_parent.get())


def wants(event_type: type) -> bool:
    """Whether an event of *event_type* emitted now in the current run would reach anyone.

    False outside a run on this thread's loop is never answered: emitting there
    raises, so the caller should build the event and find out.
    """
    run = current_run()
    return True if run is None else run.pipe.wants(event_type)


def emit_from_thread(source: Any, event: Stampable) -> bool:
    """Emit *event* from a thread other than the run's loop thread, in order.

    Works in the run's worker threads (sync tools, callbacks and handlers inherit the
    run through their context). The thread waits while the run's buffers are full,
    like an async emitter, except in a sync handler: there the event is queued
    without waiting, since the handler's own lane may be the full one. Returns
    False when the calling context belongs to no run.
    """
    run = _current_run.get()
    if run is None or run.thread_id == threading.get_ident():
        return False
    parent = _current_parent.get()
    if in_sync_handler():
        anyio.from_thread.run_sync(run.pipe.emit_nowait, source, event, parent, token=run.token)
    else:
        anyio.from_thread.run(run.pipe.emit, source, event, parent, token=run.token)
    return True


async def emit_shielded(source: Any, event: Stampable) -> None:
    """Emit *event* even though the run is being cancelled (bounded by a timeout)."""
    with anyio.move_on_after(SHIELDED_EMIT_TIMEOUT, shield=True):
        await emit(source, event)


def unwrap_group(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the one exception a group stands for, or the group if there are several."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    cancelled = anyio.get_cancelled_exc_class()
    errors = [exc for exc in leaves if not isinstance(exc, cancelled)]
    if len(errors) == 1:
        return errors[0]
    if not errors and leaves:
        return leaves[0]
    # Several errors: drop layers of groups that only wrap another group.
    while len(group.exceptions) == 1 and isinstance(group.exceptions[0], BaseExceptionGroup):
        group = group.exceptions[0]
    return group


async def open_run(
    body: Callable[[Run], Awaitable[T]],
    *,
    router: Router,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    on_open: OnOpen | None = None,
) -> T:
    """Run *body* inside a new run scope and return its result.

    The body runs as the host of the run's task group; its concurrent work goes into
    ``run.task_group``. When the body ends (returns, raises or is cancelled) the run
    waits for its children, then for every handler to finish with every event, and
    only then returns or re-raises. A single error is raised as itself, never wrapped
    in an exception group; cancellation propagates unchanged.

    *on_open* is called with the run's pipe before the first event, so a stream
    session can subscribe to all of it. A run opened inside another shares the
    parent's pipe; *on_open* then sees that pipe from this point on.
    """
    parent = current_run()
    if parent is not None:
        if on_open is None:
            return await _run_body(body, parent.pipe, parent.run_id, parent)
        # A session on a child run reads the parent's pipe, from now until the
        # child's body ends (not until the parent's run does).
        subscriptions = _ChildSubscriptions(parent.pipe)
        on_open(subscriptions)
        try:
            return await _run_body(body, parent.pipe, parent.run_id, parent)
        finally:
            with anyio.CancelScope(shield=True):
                await subscriptions.end()

    run_id = uuid.uuid4().hex
    try:
        # The dispatch group holds the pipe's consumers; it outlives the body so the
        # events of a failing or cancelled run still reach every handler.
        async with anyio.create_task_group() as dispatch:
            pipe = EventPipe(run_id, router, dispatch, buffer_size=buffer_size)
            if on_open is not None:
                on_open(pipe)
            try:
                result = await _run_body(body, pipe, run_id, None)
            except BaseException as exc:
                await pipe.aclose(cancelled=isinstance(exc, anyio.get_cancelled_exc_class()))
                raise
            await pipe.aclose()
            return result
    except BaseExceptionGroup as group:
        raise unwrap_group(group) from None
    raise AssertionError("unreachable")  # pragma: no cover - for type checkers


class _ChildSubscriptions:
    """What a child run's ``on_open`` hook sees: subscriptions that end with the child."""

    def __init__(self, pipe: EventPipe) -> None:
        self._pipe = pipe
        self._sends: list[MemoryObjectSendStream[Any]] = []

    def subscribe(
        self, channels: frozenset[str] | None = None, buffer_size: int | None = None
    ) -> MemoryObjectReceiveStream[Any]:
        send, receive = self._pipe.open_subscription(channels, buffer_size)
        self._sends.append(send)
        return receive

    async def end(self) -> None:
        for send in self._sends:
            await self._pipe.end_subscription(send)


async def _run_body(
    body: Callable[[Run], Awaitable[T]], pipe: EventPipe, run_id: str, parent: Run | None
) -> T:
    try:
        async with anyio.create_task_group() as tg:
            run = Run(run_id, pipe, tg.cancel_scope, tg, parent)
            token = _current_run.set(run)
            if parent is None:
                # Handlers run in the run's own context, not in that of whichever
                # event happened to open their lane (its task, step and span).
                pipe.handler_context = copy_context()
            try:
                return await body(run)
            finally:
                _current_run.reset(token)
    except BaseExceptionGroup as group:
        raise unwrap_group(group) from None
    raise AssertionError("unreachable")  # pragma: no cover - for type checkers
