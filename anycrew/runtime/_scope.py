"""Run scopes: every kickoff is a task group with a run id and a pipe.

(The copies of ``kickoff_for_each`` share the group that holds them.)

:func:`open_run` runs a body inside a fresh run and binds it to a context variable,
so anything inside (an agent step, a tool, an LLM adapter) finds its run with
:func:`current_run` and emits into its pipe with :func:`emit`. A run opened while
another run is current on the same event loop becomes its child: it shares the
parent's pipe and task group, so the events of a crew inside a flow nest under the
flow's events.

The event in force as "parent" for new events is another context variable, set
with :func:`span`; child tasks inherit it, so spans nest across task boundaries.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._ids import new_hex_id
from ._pipe import (
    DEFAULT_BUFFER_SIZE,
    EventPipe,
    OnOpen,
    Router,
    Span,
    Stampable,
    in_sync_handler,
)
from ._pipe import (
    current_parent as _current_parent,
)

T = TypeVar("T")
V = TypeVar("V")

_get_ident = threading.get_ident  # a module global: asked on every event check

#: How long cancellation events may take to be accepted by a full pipe.
SHIELDED_EMIT_TIMEOUT = 5.0


@dataclass(eq=False, slots=True)
class Run:
    """One kickoff in progress.

    Attributes:
        run_id: unique id, stamped on every event of the run (and of its children).
        pipe: the run's event pipe (shared with child runs).
        parent: the enclosing run, if this one was opened inside another.

    A run is stopped by cancelling its caller: the run's task group sits inside
    the caller's cancel scopes, like any structured child.
    """

    run_id: str
    pipe: EventPipe
    parent: Run | None = None
    thread_id: int = field(default_factory=threading.get_ident)
    token: anyio.lowlevel.EventLoopToken = field(default_factory=anyio.lowlevel.current_token)


_current_run: ContextVar[Run | None] = ContextVar("anycrew_run", default=None)


def current_run() -> Run | None:
    """The run the calling code belongs to, if it is on that run's event loop thread."""
    run = _current_run.get()
    if run is not None and run.thread_id != _get_ident():
        return None
    return run


def current_parent_id() -> str | None:
    """The id of the event that new events are nested under."""
    span = _current_parent.get()
    return None if span is None else span.event_id


def current_span() -> Span | None:
    """The span new events are nested under (None at the top of a run)."""
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


class bind_all:
    """Enter several :class:`bind` blocks as one ``with`` block.

    Only the tokens are kept while the block runs: one object and one token per
    variable, where nested ``with`` blocks would keep three per variable. Variables
    are set in the order given and reset in reverse.
    """

    __slots__ = ("_binds", "_tokens")

    def __init__(self, *binds: bind[Any] | Span | None) -> None:
        self._binds: tuple[bind[Any] | Span | None, ...] | None = binds

    def __enter__(self) -> None:
        binds, self._binds = self._binds, None
        if binds is None:
            raise RuntimeError("a bind_all block can be entered only once")
        self._tokens = [
            _current_parent.set(b) if isinstance(b, Span) else b._var.set(b._value)
            for b in binds
            if b is not None
        ]

    def __exit__(self, *exc_info: object) -> None:
        for token in reversed(self._tokens):
            token.var.reset(token)


def span(event_id: str | None) -> Span:
    """Nest the events emitted inside the block under the event *event_id*.

    What the current span carries besides (a step's labels) stays as it is. The
    span is the ``with`` block itself (see :class:`Span`).
    """
    current = _current_parent.get()
    return Span(event_id) if current is None else current.nested(event_id)


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
    span = _current_parent.get()
    return run.pipe.emit(source, event, None if span is None else span.event_id)


def wants(event_type: type) -> bool:
    """Whether an event of *event_type* emitted now in the current run would reach anyone.

    False outside a run on this thread's loop is never answered: emitting there
    raises, so the caller should build the event and find out.
    """
    # current_run() and the pipe's common case, inlined: this is asked several
    # times per kickoff.
    run = _current_run.get()
    if run is None or run.thread_id != _get_ident():
        return True
    pipe = run.pipe
    if pipe._subscribers:
        return pipe.wants(event_type)
    router = pipe._router
    # A router written before Router.quiet existed is taken as never quiet.
    return not getattr(router, "quiet", False) and router.routes(event_type)


def emit_from_thread(source: Any, event: Stampable) -> bool:
    """Emit *event* from a thread other than the run's loop thread, in order.

    Works in the run's worker threads (sync tools, callbacks and handlers inherit the
    run through their context). The thread waits while the run's buffers are full,
    like an async emitter, except in a sync handler: there the event is queued
    without waiting, since the handler's own lane may be the full one. Returns
    False when the calling context belongs to no run.
    """
    run = _current_run.get()
    if run is None or run.thread_id == _get_ident():
        return False
    parent = current_parent_id()
    if in_sync_handler():
        anyio.from_thread.run_sync(run.pipe.emit_nowait, source, event, parent, token=run.token)
    else:
        anyio.from_thread.run(run.pipe.emit, source, event, parent, token=run.token)
    return True


async def emit_shielded(source: Any, event: Stampable) -> None:
    """Emit *event* even though the run is being cancelled (bounded by a timeout).

    An event nobody would receive is dropped without the shielded scope: its timer
    costs more than the rest of a cancelled crew's way out, and cancelling 1,000
    crews sets three of them per crew.
    """
    if not wants(type(event)):
        return
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


def open_run(
    body: Callable[[Run], Awaitable[T]],
    *,
    router: Router,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    on_open: OnOpen | None = None,
    task_group: anyio.abc.TaskGroup | None = None,
    loop_token: anyio.lowlevel.EventLoopToken | None = None,
) -> Coroutine[Any, Any, T]:
    """Run *body* inside a new run scope and return its result.

    A run is one task group: the body runs as its host, inside the group's cancel
    scope, and the pipe's consumers (handler lanes, the backlog flusher) run as its
    children. Concurrent work the body starts lives in task groups the body opens
    itself, which nest inside the run. When the body ends (returns, raises or is
    cancelled) the run waits for every handler to finish with every event, and only
    then returns or re-raises. A single error is raised as itself, never wrapped in
    an exception group; cancellation propagates unchanged.

    *task_group* is a group of the caller's that outlives the run, for the pipe's
    consumers: runs started side by side from one group (``kickoff_for_each``) then
    need no group each. The run still waits for its consumers before it returns.
    Such a caller may also pass *loop_token* (``anyio.lowlevel.current_token()``),
    which the runs then share instead of looking it up each.

    *on_open* is called with the run's pipe before the first event, so a stream
    session can subscribe to all of it. A run opened inside another (a crew inside a
    flow) is a child: it shares the parent's pipe and run id, and needs no task
    group of its own; *on_open* then sees that pipe from this point on.

    A plain function handing back the run's coroutine, to be awaited at once: it
    finds the enclosing run when called, and saves a coroutine level per run.
    """
    parent = current_run()
    if parent is not None:
        return _run_child(body, parent, on_open)
    run_id = new_hex_id()
    if task_group is not None:
        return _run_top(body, run_id, router, task_group, buffer_size, on_open, loop_token)
    return _run_in_own_group(body, run_id, router, buffer_size, on_open)


async def _run_in_own_group(
    body: Callable[[Run], Awaitable[T]],
    run_id: str,
    router: Router,
    buffer_size: int,
    on_open: OnOpen | None,
) -> T:
    try:
        # The pipe's consumers are children of the run's group; they are shielded,
        # so the events of a failing or cancelled run still reach every handler.
        async with anyio.create_task_group() as tg:
            return await _run_top(body, run_id, router, tg, buffer_size, on_open)
    except BaseExceptionGroup as group:
        raise unwrap_group(group) from None
    raise AssertionError("unreachable")  # pragma: no cover - for type checkers


async def _run_top(
    body: Callable[[Run], Awaitable[T]],
    run_id: str,
    router: Router,
    task_group: anyio.abc.TaskGroup,
    buffer_size: int,
    on_open: OnOpen | None,
    loop_token: anyio.lowlevel.EventLoopToken | None = None,
) -> T:
    pipe = EventPipe(run_id, router, task_group, buffer_size=buffer_size)
    if on_open is not None:
        on_open(pipe)
    run = Run(run_id, pipe) if loop_token is None else Run(run_id, pipe, token=loop_token)
    token = _current_run.set(run)
    # Handlers run in the run's own context, not in that of whichever event
    # happened to open their lane (its task, step and span).
    pipe.handler_context = copy_context()
    try:
        work = body(run)
        # The body's coroutine holds what it needs: its maker (a partial, often)
        # need not stay alive for the whole run.
        del body
        result = await work
    except BaseException as exc:
        await pipe.aclose(cancelled=isinstance(exc, anyio.get_cancelled_exc_class()))
        if isinstance(exc, BaseExceptionGroup):
            raise unwrap_group(exc) from None
        raise
    finally:
        _current_run.reset(token)
    if not pipe.close_if_settled():
        await pipe.aclose()
    return result


async def _run_child(body: Callable[[Run], Awaitable[T]], parent: Run, on_open: OnOpen | None) -> T:
    run = Run(parent.run_id, parent.pipe, parent)
    subscriptions = None
    if on_open is not None:
        # A session on a child run reads the parent's pipe, from now until the
        # child's body ends (not until the parent's run does).
        subscriptions = _ChildSubscriptions(parent.pipe)
        on_open(subscriptions)
    try:
        with bind(_current_run, run):
            return await body(run)
    except BaseExceptionGroup as group:
        raise unwrap_group(group) from None
    finally:
        if subscriptions is not None:
            with anyio.CancelScope(shield=True):
                await subscriptions.end()


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
