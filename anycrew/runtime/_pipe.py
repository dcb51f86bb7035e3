"""The event pipe: stamping, ordering and per-lane fan-out of one run's events.

An event enters the pipe through :meth:`EventPipe.emit`, which stamps it (sequence
number, parent, previous id, run id) and hands it to every lane that wants it. A
lane is a bounded memory object stream with one consumer task:

* the *async lane* awaits the async handlers in order, on the run's event loop;
* the *sync lane* hands batches of events to one worker thread at a time, so a
  sync handler that blocks stalls only its own lane, never the event loop;
* subscriber lanes (stream sessions) are plain receive streams read by their owner.

Delivery uses ``send_nowait`` while a lane has room and falls back to an awaited
``send`` when it is full: a slow consumer slows the run down (backpressure) instead
of growing memory. Each lane sees the run's events in ``seq`` order.

The pipe knows nothing about the domain. Events are duck-typed (:class:`Stampable`)
and handlers are found through a :class:`Router` given by whoever opens the run.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextvars import Context, ContextVar
from functools import partial
from typing import Any, ClassVar, Protocol

import anyio
import anyio.abc
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

logger = logging.getLogger("anycrew.events")

SyncHandler = Callable[[Any, Any], object]
AsyncHandler = Callable[[Any, Any], Awaitable[object]]

#: Default capacity of every lane's buffer, in events.
DEFAULT_BUFFER_SIZE = 256

#: How long, after a cancelled run, its lanes may keep delivering queued events.
CANCELLED_DRAIN_TIMEOUT = 5.0

# The most events a lane's consumer takes at once: draining the buffer in one go
# means one scheduler pass per batch, not per event.
_MAX_BATCH = 512

# While emitters wait behind the backlog, wake them at least every this many events.
_PROGRESS_EVERY = 64


async def receive_batch(receive: MemoryObjectReceiveStream[Any], limit: int) -> list[Any]:
    """Wait for at least one item, then take whatever else is ready (up to *limit*).

    Returns an empty list once the stream has ended.
    """
    try:
        batch = [await receive.receive()]
    except (anyio.EndOfStream, anyio.ClosedResourceError):
        return []
    while len(batch) < limit:
        try:
            batch.append(receive.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            break
    return batch


class Stampable(Protocol):
    """What the pipe needs of an event."""

    channel: ClassVar[str]
    event_id: str
    emission_sequence: int | None
    parent_event_id: str | None
    previous_event_id: str | None
    run_id: str | None


class Router(Protocol):
    """Finds the handlers an event must reach (the event bus implements this)."""

    #: True while no handler is registered at all: then :meth:`routes` is False for
    #: every type, and a run can tell so without a call (it asks for every event).
    quiet: bool

    def handlers_for(self, event: Any) -> tuple[Sequence[SyncHandler], Sequence[AsyncHandler]]:
        """Return the sync and the async handlers for *event*, in registration order."""
        ...

    def routes(self, event_type: type) -> bool:
        """Whether any handler would receive events of *event_type*."""
        ...


class Subscribable(Protocol):
    """Where a stream session subscribes to a run's events (a pipe, or a child's view)."""

    def subscribe(
        self, channels: frozenset[str] | None = None, buffer_size: int | None = None
    ) -> MemoryObjectReceiveStream[Any]:
        """A bounded stream of the run's later events (of *channels*, if given)."""
        ...


#: Called by a run as it opens, before its first event, to let a session subscribe.
OnOpen = Callable[[Subscribable], object]


class RunFinishedError(RuntimeError):
    """An event was emitted into a run that has already finished."""


def _report_handler_error(handler: object, event: Any) -> None:
    name = getattr(handler, "__qualname__", None) or repr(handler)
    logger.exception(
        "event handler %s raised while handling %s; the run continues",
        name,
        type(event).__name__,
    )


def call_sync_handlers(handlers: Sequence[SyncHandler], source: Any, event: Any) -> None:
    """Call each handler in turn; one that raises is logged and the rest still run."""
    for handler in handlers:
        try:
            handler(source, event)
        except Exception:
            _report_handler_error(handler, event)


async def call_async_handlers(handlers: Sequence[AsyncHandler], source: Any, event: Any) -> None:
    """Await each handler in turn; one that raises is logged and the rest still run."""
    for handler in handlers:
        try:
            await handler(source, event)
        except Exception:
            _report_handler_error(handler, event)


def _deliver_sync_batch(batch: list[tuple[Sequence[SyncHandler], Any, Any]]) -> None:
    _sync_handler_thread.active = True
    try:
        for handlers, source, event in batch:
            # What a handler emits nests under the event it is handling.
            token = current_parent.set(Span(event.event_id))
            try:
                call_sync_handlers(handlers, source, event)
            finally:
                current_parent.reset(token)
    finally:
        _sync_handler_thread.active = False


class _Lane:
    """A bounded stream of events with one consumer task, shielded from cancellation.

    The consumer must outlive the run's body: if the caller cancels the run, the
    cancellation events still have to reach the handlers. So the consumer runs in a
    shielded scope and ends when the send side closes; after a cancelled run it gets
    a deadline (:data:`CANCELLED_DRAIN_TIMEOUT`), so a stuck async handler cannot hold
    the caller forever. A sync handler runs in a worker thread, which cannot be
    interrupted: the lane waits for its current batch (no thread is abandoned) and
    logs that it overran. ``accepted`` and ``finished`` count the items given to the
    lane and the items its consumer is done with.
    """

    __slots__ = ("_done", "_receive", "_scope", "accepted", "finished", "send")

    def __init__(self, buffer_size: int) -> None:
        send, receive = anyio.create_memory_object_stream[Any](buffer_size)
        self.send: MemoryObjectSendStream[Any] = send
        self._receive: MemoryObjectReceiveStream[Any] = receive
        self._scope = anyio.CancelScope(shield=True)
        self._done = anyio.Event()
        self.accepted = 0
        self.finished = 0

    @property
    def idle(self) -> bool:
        return self.finished == self.accepted

    async def run(
        self, consume: Callable[[MemoryObjectReceiveStream[Any]], Awaitable[None]]
    ) -> None:
        try:
            with self._scope, self._receive:
                await consume(self._receive)
            if self._scope.cancelled_caught:
                logger.warning(
                    "event delivery to handlers was cut off %.1f s after the run was "
                    "cancelled: a handler did not finish in time",
                    CANCELLED_DRAIN_TIMEOUT,
                )
        finally:
            self._done.set()

    def close(self, deadline: float) -> None:
        """No more items; the consumer stops at *deadline* at the latest."""
        self.send.close()
        self._scope.deadline = min(self._scope.deadline, deadline)

    async def wait_done(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._done.wait()


# True in the tasks that deliver events to async handlers: an async handler that
# emits must not wait for room in the lane that is waiting for it.
_in_lane: ContextVar[bool] = ContextVar("anycrew_in_lane", default=False)


class Span:
    """Where new events nest: under the event ``event_id`` (see runtime.span).

    The domain layers subclass it to carry what else they label events with (the
    step's task and agent), so that entering a step and nesting under its started
    event is one context variable set, not two. ``nested`` gives the same span
    under another event, keeping whatever a subclass carries.
    """

    __slots__ = ("_token", "event_id")

    def __init__(self, event_id: str | None) -> None:
        self.event_id = event_id

    def nested(self, event_id: str | None) -> Span:
        """This span, under the event *event_id* instead."""
        return Span(event_id)

    # A span is its own ``with`` block (entered once): no separate object to hold
    # the token, on a path every level of every run takes.
    def __enter__(self) -> Span:
        self._token = current_parent.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        current_parent.reset(self._token)


#: The span new events are nested under (see runtime.span).
current_parent: ContextVar[Span | None] = ContextVar("anycrew_parent_event", default=None)

#: Make a span current without a ``with`` block: ``token = enter_span(span)``, then
#: ``leave_span(token)`` in a ``finally``. For the levels every kickoff enters: a
#: ``with`` block keeps a bound ``__exit__`` alive for as long as the level runs.
enter_span = current_parent.set
leave_span = current_parent.reset

_sync_handler_thread = threading.local()


def in_sync_handler() -> bool:
    """True in the worker thread that is delivering events to sync handlers."""
    return bool(getattr(_sync_handler_thread, "active", False))


class EventPipe:
    """Stamps one run's events and fans them out to handlers and subscribers.

    Args:
        run_id: stamped on every event of the run.
        router: finds each event's handlers at emission time.
        task_group: where the lane consumers run; it must outlive the run's body.
        buffer_size: capacity of each lane, in events.

    Ordering: events are stamped in the order :meth:`emit` / :meth:`emit_nowait` are
    called, and every lane receives them in that order. When a lane is full, the
    event and every later one wait in an ordered backlog that one flusher task
    drains; async emitters wait until their event has left the backlog, which is
    how a slow consumer slows the run down.
    """

    # Class-level defaults for what most runs never change: a run's pipe starts
    # with four attributes of its own, not sixteen (there is one per kickoff).
    _seq = 0
    _last_id: str | None = None
    _sync_lane: _Lane | None = None
    _async_lane: _Lane | None = None
    # Replaced, never changed in place: most runs have none, and an empty tuple
    # costs the garbage collector nothing.
    _subscribers: tuple[tuple[frozenset[str] | None, MemoryObjectSendStream[Any]], ...] = ()
    #: The context handler lanes start in (set by the run scope).
    handler_context: Context | None = None
    _closed = False
    # The ordered backlog used while some lane is full (see the class docs);
    # made when first needed.
    _backlog: deque[tuple[MemoryObjectSendStream[Any], Any]] | None = None
    _queued = 0
    _flushed = 0
    # Created only when someone has to wait: most runs never need them.
    _progress: anyio.Event | None = None
    _flusher: _Lane | None = None
    _flush_wakeup: anyio.Event | None = None

    def __init__(
        self,
        run_id: str,
        router: Router,
        task_group: anyio.abc.TaskGroup,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
    ) -> None:
        if buffer_size < 1:
            raise ValueError(f"event buffer_size must be at least 1, got {buffer_size}")
        self.run_id = run_id
        self._router = router
        self._task_group = task_group
        self._buffer_size = buffer_size

    def wants(self, event_type: type) -> bool:
        """Whether an event of *event_type* emitted now would reach anyone.

        A subscriber of its channel, or a handler for its class.
        """
        if self._subscribers:
            channel = getattr(event_type, "channel", None)
            for channels, _ in self._subscribers:
                if channels is None or channel in channels:
                    return True
        return self._router.routes(event_type)

    @property
    def emitted(self) -> int:
        """How many events this pipe has stamped so far."""
        return self._seq

    def stamp(self, event: Stampable, parent_id: str | None) -> None:
        """Give *event* its place in the run: sequence, parent, previous and run id."""
        if self._closed:
            raise RunFinishedError(
                f"run {self.run_id} has finished; {type(event).__name__} cannot be emitted into it"
            )
        # object.__setattr__: works for plain objects and skips pydantic's
        # validating __setattr__, which would dominate the cost of emission.
        setattr_ = object.__setattr__
        setattr_(event, "emission_sequence", self._seq)
        self._seq += 1
        setattr_(event, "previous_event_id", self._last_id)
        if event.parent_event_id is None:
            setattr_(event, "parent_event_id", parent_id)
        setattr_(event, "run_id", self.run_id)
        self._last_id = event.event_id

    async def emit(self, source: Any, event: Stampable, parent_id: str | None) -> None:
        """Stamp *event* and deliver it to every lane that wants it.

        Returns once every lane has accepted the event; waits (and checkpoints) only
        when a lane is full. If the wait is cancelled the event is still delivered.
        """
        self.stamp(event, parent_id)
        target = self._deliver_nowait(source, event)
        if not target or _in_lane.get():
            return
        while self._flushed < target:
            await self._wait_progress()

    def emit_nowait(self, source: Any, event: Stampable, parent_id: str | None) -> None:
        """Stamp *event* and deliver it without blocking, for sync code on the loop thread.

        A full lane does not lose the event: it waits in the ordered backlog.
        """
        self.stamp(event, parent_id)
        self._deliver_nowait(source, event)

    def _deliver_nowait(self, source: Any, event: Stampable) -> int:
        # Returns 0 if the event reached every lane, else the backlog position that
        # must be flushed before the event counts as delivered.
        backlog = self._backlog
        sync_handlers, async_handlers = self._router.handlers_for(event)
        deliveries: list[tuple[MemoryObjectSendStream[Any], Any]] = []
        if sync_handlers:
            lane = self._sync_lane or self._open_lane("sync")
            lane.accepted += 1
            deliveries.append((lane.send, (sync_handlers, source, event)))
        if async_handlers:
            lane = self._async_lane or self._open_lane("async")
            lane.accepted += 1
            deliveries.append((lane.send, (async_handlers, source, event)))
        for channels, subscriber in self._subscribers:
            if channels is None or event.channel in channels:
                deliveries.append((subscriber, event))
        for send, item in deliveries:
            if not backlog:
                try:
                    send.send_nowait(item)
                    continue
                except anyio.WouldBlock:
                    pass
                except anyio.BrokenResourceError:
                    self._unsubscribe(send)  # the subscriber closed its end
                    continue
            if backlog is None:
                backlog = self._backlog = deque()
            backlog.append((send, item))
            self._queued += 1
        if not backlog:
            return 0
        if self._flusher is None:
            self._flusher = _Lane(1)
            self._task_group.start_soon(
                self._flusher.run, self._flush, name="anycrew event backlog"
            )
        elif self._flush_wakeup is not None:
            self._flush_wakeup.set()
        return self._queued

    async def _flush(self, _: MemoryObjectReceiveStream[Any]) -> None:
        # One task per pipe, started the first time a lane fills up; it sleeps while
        # the backlog is empty and ends when the pipe closes.
        backlog = self._backlog
        assert backlog is not None  # the flusher starts once something is queued
        while True:
            while backlog:
                send, item = backlog[0]
                try:
                    await send.send(item)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    self._unsubscribe(send)
                backlog.popleft()
                self._flushed += 1
                if not backlog or self._flushed % _PROGRESS_EVERY == 0:
                    self._note_progress()
            if self._closed:
                return
            wakeup = self._flush_wakeup = anyio.Event()
            await wakeup.wait()

    def _note_progress(self) -> None:
        # Wakes whoever waits for deliveries (emitters behind the backlog, aclose).
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.set()

    async def _wait_progress(self) -> None:
        if self._progress is None:
            self._progress = anyio.Event()
        await self._progress.wait()

    def _open_lane(self, kind: str) -> _Lane:
        lane = _Lane(self._buffer_size)
        if kind == "sync":
            self._sync_lane = lane
            consume, name = self._consume_sync, "anycrew sync handlers"
        else:
            self._async_lane = lane
            consume, name = self._consume_async, "anycrew async handlers"
        if self.handler_context is None:
            self._task_group.start_soon(lane.run, consume, name=name)
        else:
            self.handler_context.run(
                partial(self._task_group.start_soon, lane.run, consume, name=name)
            )
        return lane

    async def _consume_async(self, receive: MemoryObjectReceiveStream[Any]) -> None:
        lane = self._async_lane
        assert lane is not None
        _in_lane.set(True)
        while batch := await receive_batch(receive, _MAX_BATCH):
            for handlers, source, event in batch:
                current_parent.set(Span(event.event_id))  # this task's own context
                await call_async_handlers(handlers, source, event)
                lane.finished += 1
            self._note_progress()

    async def _consume_sync(self, receive: MemoryObjectReceiveStream[Any]) -> None:
        lane = self._sync_lane
        assert lane is not None
        while batch := await receive_batch(receive, _MAX_BATCH):
            await anyio.to_thread.run_sync(_deliver_sync_batch, batch)
            lane.finished += len(batch)
            self._note_progress()

    def _settled(self) -> bool:
        # Written out rather than all(...) over the lanes: every run ends here.
        if self._backlog:
            return False
        sync, async_ = self._sync_lane, self._async_lane
        return (sync is None or sync.idle) and (async_ is None or async_.idle)

    def subscribe(
        self, channels: frozenset[str] | None = None, buffer_size: int | None = None
    ) -> MemoryObjectReceiveStream[Any]:
        """Open a subscription that receives every later event (of *channels*, if given).

        The caller owns the returned stream and must keep reading it: a full
        subscription applies backpressure to the run. It ends when the run ends;
        closing it early unsubscribes (the run goes on without it).
        """
        return self.open_subscription(channels, buffer_size)[1]

    def open_subscription(
        self, channels: frozenset[str] | None = None, buffer_size: int | None = None
    ) -> tuple[MemoryObjectSendStream[Any], MemoryObjectReceiveStream[Any]]:
        """:meth:`subscribe`, also returning the send side for :meth:`end_subscription`."""
        size = self._buffer_size if buffer_size is None else buffer_size
        if size < 1:
            raise ValueError(f"subscription buffer_size must be at least 1, got {size}")
        send, receive = anyio.create_memory_object_stream[Any](size)
        self._subscribers = (*self._subscribers, (channels, send))
        return send, receive

    async def end_subscription(self, send: MemoryObjectSendStream[Any]) -> None:
        """End one subscription early, once what is queued for it has been delivered.

        Used for a subscription to a child run, which ends with the child while the
        pipe (the parent's) goes on.
        """
        while any(target is send for target, _ in self._backlog or ()):
            await self._wait_progress()
        self._unsubscribe(send)

    def _unsubscribe(self, send: MemoryObjectSendStream[Any]) -> None:
        # A subscriber that closed its receive stream is gone; the run goes on.
        self._subscribers = tuple((c, s) for c, s in self._subscribers if s is not send)
        send.close()

    async def aclose(self, *, cancelled: bool = False) -> None:
        """Wait until every handler has seen every event, then refuse further events.

        Handlers may still emit while the pipe drains (their events are delivered
        too); the pipe closes once no lane has work left and nothing is queued.

        After a normal run the wait can be cancelled like any other: the caller's
        cancellation switches to the bounded drain of a cancelled run and then
        propagates. A cancelled run (*cancelled*) drains under a shield with one
        deadline, :data:`CANCELLED_DRAIN_TIMEOUT` from now, for everything at once.
        """
        if not cancelled:
            try:
                while not self._settled():
                    await self._wait_progress()
            except anyio.get_cancelled_exc_class():
                await self._close(anyio.current_time() + CANCELLED_DRAIN_TIMEOUT)
                raise
            await self._close(math.inf)
        else:
            await self._close(anyio.current_time() + CANCELLED_DRAIN_TIMEOUT)

    def close_if_settled(self) -> bool:
        """Close at once if no handler has work left and no lane or subscriber is open.

        True if it closed; else nothing changed and :meth:`aclose` is to be awaited.
        Most runs have neither handlers nor subscribers: they end here, without the
        coroutines of :meth:`aclose`.
        """
        if self._flusher or self._sync_lane or self._async_lane or self._subscribers:
            return False
        if self._backlog or self._flush_wakeup is not None:
            return False
        self._closed = True
        self.handler_context = None  # see _close
        return True

    async def _close(self, deadline: float) -> None:
        if not self._settled():  # most runs have nothing left to wait for: no scope
            with anyio.CancelScope(shield=True, deadline=deadline):
                while not self._settled():
                    await self._wait_progress()
        self._closed = True
        # The run's context holds the run, which holds this pipe: dropping it
        # breaks the cycle, so a finished run is freed at once, not by the garbage
        # collector.
        self.handler_context = None
        if self._flush_wakeup is not None:
            self._flush_wakeup.set()
        if self._flusher or self._sync_lane or self._async_lane:  # most runs start none
            lanes = [lane for lane in (self._flusher, self._sync_lane, self._async_lane) if lane]
            for lane in lanes:
                lane.close(deadline)
            for lane in lanes:
                await lane.wait_done()
        for _, subscriber in self._subscribers:
            subscriber.close()
