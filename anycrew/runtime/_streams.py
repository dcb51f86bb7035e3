"""Stream sessions: a run whose events its starter reads as it goes.

A session owns its run. The run starts when the session is entered (or first read)
and subscribes to its own pipe before the first event, so nothing is missed; the
subscription is bounded, so a reader that stops reading slows the run down; closing
the session before the end cancels the run and waits for it to stop.

Where the run executes is the driver's business:

* :class:`LoopDriver` runs it as a child task of the session's task group on the
  caller's event loop. It serves ``async with session:``.
* :class:`ThreadDriver` runs it on a private event loop in a helper thread and hands
  events over through a bounded, closable channel. It
  serves synchronous readers, and async readers that iterate without ``async with``
  (a task group cannot stay open across separate ``__anext__`` calls, a thread can).

Both expose ``next_event`` (and the thread driver ``next_event_sync``), returning
None at the end, and record the run's outcome for the session to report.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import anyio.abc
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream

from ._pipe import OnOpen, Subscribable, receive_batch
from ._threads import CancelBridge, apply_carried, capture_carried

#: Starts a run: called with the hook the run must call with its pipe when it opens.
Start = Callable[[OnOpen], Awaitable[Any]]

# Events handed across threads at once, at most.
_BATCH: Final = 256


class Outcome:
    """How a session's run ended: a result, an error, or a cancellation."""

    __slots__ = ("cancelled", "done", "error", "result")

    def __init__(self) -> None:
        self.done = False
        self.cancelled = False
        self.error: BaseException | None = None
        self.result: Any = None

    def set_result(self, result: Any) -> None:
        self.result, self.done = result, True

    def set_error(self, error: BaseException) -> None:
        self.error, self.done = error, True

    def set_cancelled(self) -> None:
        self.cancelled, self.done = True, True


class LoopDriver:
    """Runs the session's run on the caller's loop, in a task group the session owns."""

    def __init__(self, start: Start, buffer_size: int) -> None:
        self._start = start
        self._buffer_size = buffer_size
        self.outcome = Outcome()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._scope = anyio.CancelScope()
        self._receive: MemoryObjectReceiveStream[Any] | None = None
        self._opened = anyio.Event()
        self._finished = anyio.Event()
        self._pending: deque[Any] = deque()

    async def open(self) -> None:
        """Start the run (from ``__aenter__``; pair it with :meth:`aclose` in the same task)."""
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._produce, name="anycrew stream session")

    def _on_open(self, pipe: Subscribable) -> None:
        self._receive = pipe.subscribe(buffer_size=self._buffer_size)
        if self._scope.cancel_called:
            self._receive.close()  # closed before the run opened: nobody will read
        self._opened.set()

    async def _produce(self) -> None:
        try:
            with self._scope:
                try:
                    self.outcome.set_result(await self._start(self._on_open))
                except Exception as exc:
                    self.outcome.set_error(exc)
            if self._scope.cancelled_caught:
                self.outcome.set_cancelled()
        finally:
            self._opened.set()
            self._finished.set()

    async def next_event(self) -> Any | None:
        """The run's next event, or None once the run is over.

        Events already buffered are handed out without a scheduler pass each (one
        pass per batch), which keeps the reader from trading places with the run
        on every event.
        """
        if self._pending:
            return self._pending.popleft()
        await self._opened.wait()
        if self._receive is not None:
            batch = await receive_batch(self._receive, _BATCH)
            if batch:
                self._pending.extend(batch)
                return self._pending.popleft()
        await self._finished.wait()
        return None

    def cancel(self) -> None:
        """Stop reading and cancel the run unless it is over (without waiting)."""
        if self._receive is not None:
            self._receive.close()
        if not self._finished.is_set():
            self._scope.cancel()

    async def aclose(self) -> None:
        """Stop reading; cancel the run unless it is over; wait until it has stopped.

        The producer never lets an error escape (it records the outcome), so leaving
        the task group raises nothing of its own: an exception from the reader's
        block propagates as it is, and a cancellation of the reader still applies.
        """
        self.cancel()  # closing our receive end unsubscribes: the run no longer waits
        if self._task_group is None:
            return
        task_group, self._task_group = self._task_group, None
        await task_group.__aexit__(None, None, None)


class _Channel:
    """A bounded, thread-safe queue of batches that either side can close.

    Closing wakes everyone: blocked ``put`` calls return False, blocked ``get`` calls
    return None, and what was queued is dropped.
    """

    def __init__(self, max_batches: int) -> None:
        self._items: deque[Any] = deque()
        self._max = max_batches
        self._cond = threading.Condition()
        self._closed = False

    def try_put(self, item: Any) -> bool | None:
        """Queue *item* if there is room: True; False if full; None if closed."""
        with self._cond:
            if self._closed:
                return None
            if len(self._items) >= self._max:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def put(self, item: Any) -> bool:
        """Queue *item*, waiting for room; False if the channel is (or gets) closed."""
        with self._cond:
            while len(self._items) >= self._max and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    @property
    def closed(self) -> bool:
        return self._closed

    def try_get(self) -> Any | None:
        with self._cond:
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def get(self) -> Any | None:
        """The next item, waiting for one; None once the channel is closed."""
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def wait(self) -> None:
        """Wait until an item is queued or the channel is closed, taking nothing.

        Safe to abandon: a reader that gives up waiting loses no item.
        """
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()


_END: Final = object()


class ThreadDriver:
    """Runs the session's run on a private loop in a helper thread.

    The thread is started by :meth:`open` and joined by :meth:`close`, or as soon as
    the run is over and its last event read, so it never outlives the session.
    Cancellation reaches the private loop through a :class:`CancelBridge`, which
    never blocks the caller: closing works from any thread, any event loop, and from
    a finalizer.
    """

    def __init__(self, start: Start, buffer_size: int, backend: tuple[str, dict[str, Any]]) -> None:
        self._start = start
        self._buffer_size = buffer_size
        self._backend = backend
        self.outcome = Outcome()
        self._channel = _Channel(max(1, buffer_size // 16))
        self._pending: deque[Any] = deque()
        self._bridge = CancelBridge()
        self._carried = capture_carried()
        self._thread: threading.Thread | None = None
        self._ended = False

    def open(self) -> None:
        # A plain thread rather than a pooled worker: it lives exactly as long as the
        # run, and is joined by close() or when the run's last event has been read.
        self._thread = threading.Thread(
            target=self._thread_main, name="anycrew stream session", daemon=True
        )
        self._thread.start()

    # -- the helper thread's side ---------------------------------------------------

    def _thread_main(self) -> None:
        name, options = self._backend
        apply_carried(self._carried)  # a new thread starts with an empty context
        try:
            anyio.run(self._bridged_produce, backend=name, backend_options=options or None)
        finally:
            # Whatever happened, the reader must not wait forever.
            if self._channel.try_put(_END) is False:
                self._channel.put(_END)

    async def _bridged_produce(self) -> None:
        with anyio.CancelScope() as scope:
            self._bridge.attach(scope)
            try:
                await self._produce()
            finally:
                self._bridge.detach()
        if scope.cancelled_caught:
            self.outcome.set_cancelled()

    async def _produce(self) -> None:
        outcome = self.outcome
        async with anyio.create_task_group() as tg:

            def on_open(pipe: Subscribable) -> None:
                tg.start_soon(self._forward, pipe.subscribe(buffer_size=self._buffer_size))

            try:
                outcome.set_result(await self._start(on_open))
            except Exception as exc:
                outcome.set_error(exc)

    async def _forward(self, receive: MemoryObjectReceiveStream[Any]) -> None:
        async with receive:
            while batch := await receive_batch(receive, _BATCH):
                accepted = self._channel.try_put(batch)
                if accepted is False:
                    accepted = await anyio.to_thread.run_sync(self._channel.put, batch)
                if not accepted:
                    return  # the reader closed the session; leaving unsubscribes

    # -- the reader's side ----------------------------------------------------------

    def _take(self, item: Any) -> Any | None:
        if item is None or item is _END:
            self._ended = True
            return None
        self._pending.extend(item)
        return self._pending.popleft()

    def next_event_sync(self) -> Any | None:
        """The run's next event (blocking), or None once the run is over."""
        if self._pending:
            return self._pending.popleft()
        if self._ended:
            return None
        event = self._take(self._channel.get())
        if event is None:
            self.join()
        return event

    async def next_event(self) -> Any | None:
        """The run's next event without blocking the caller's loop, or None at the end."""
        if self._pending:
            return self._pending.popleft()
        if self._ended:
            return None
        item = self._channel.try_get()
        while item is None and not self._channel.closed:
            # Only the waiting happens in the thread, never the taking: a cancelled
            # read abandons the wait, and the next read finds the item still queued.
            await anyio.to_thread.run_sync(self._channel.wait, abandon_on_cancel=True)
            item = self._channel.try_get()
        event = self._take(item)
        if event is None:
            await anyio.to_thread.run_sync(self.join)
        return event

    def join(self) -> None:
        """Wait until the helper thread is gone."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def cancel(self) -> None:
        """Stop reading and cancel the run unless it is over, without waiting.

        For finalizers and ``__del__``: the helper thread ends on its own once its
        loop has unwound, a moment later. :meth:`close` also waits for that.
        """
        self._ended = True
        self._pending.clear()
        self._channel.close()
        if not self.outcome.done:
            self._bridge.cancel()

    def close(self) -> None:
        """Stop reading; cancel the run unless it is over; wait until the thread is gone."""
        self.cancel()
        self.join()
