"""StreamSession and AsyncStreamSession: read a run's frames while it runs.

One set of semantics, two ways to read:

* ``StreamSession`` (sync): the run executes on a private event loop in a helper
  thread; iterating blocks until the next frame.
* ``AsyncStreamSession``: ``async with session:`` runs it as a child task of the
  session on the caller's loop; iterating without ``async with`` falls back to the
  helper-thread driver, so ``async for frame in crew.astream()`` works too.

Projections (``events``, ``llm``, ``messages``, ``flow``, ``tools``, ``lifecycle``,
``interleave([...])``) filter the one underlying subscription: reading only
``stream.llm`` still drives the run to its end. Once the stream is exhausted, a new
projection replays the frames seen, filtered. Leaving the ``with`` block, ``close()``
or ``aclose()`` before the end cancels the run and waits until it has stopped.
"""

from __future__ import annotations

import weakref
from abc import abstractmethod
from collections.abc import Iterable
from typing import Any, Final, Generic, TypeVar

import anyio.to_thread

from ..runtime import DEFAULT_BUFFER_SIZE, current_backend
from ..runtime._streams import LoopDriver, Outcome, Start, ThreadDriver
from ..runtime._threads import default_backend
from .frames import StreamFrame

_NOT_DONE: Final = (
    "Streaming has not completed yet. Iterate over all frames before accessing result."
)
_CLOSED_EARLY: Final = (
    "Streaming was closed before it completed, so the run was cancelled and has no result."
)

_CHANNELS: Final = frozenset(("llm", "flow", "tools", "messages", "lifecycle", "custom"))


def _channel_set(channels: Iterable[str]) -> frozenset[str]:
    if isinstance(channels, str):
        raise TypeError(f"interleave() takes a list of channels, e.g. [{channels!r}]")
    chosen = frozenset(channels)
    unknown = chosen - _CHANNELS
    if unknown:
        raise ValueError(f"unknown channel(s) {sorted(unknown)}; choose from {sorted(_CHANNELS)}")
    return chosen


P = TypeVar("P")


class _SessionState(Generic[P]):
    """What both session kinds share: the frames seen, how the run ended, projections."""

    def __init__(self, start: Start, buffer_size: int | None, keep_frames: bool) -> None:
        size = DEFAULT_BUFFER_SIZE if buffer_size is None else buffer_size
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"buffer_size must be a positive integer, got {buffer_size!r}")
        self._start = start
        self._buffer_size = size
        self._keep_frames = keep_frames
        self._frames: list[StreamFrame] = []
        self._exhausted = False
        self._closed = False
        self._outcome: Outcome | None = None

    @property
    def is_exhausted(self) -> bool:
        """True once every frame of the run has been read."""
        return self._exhausted

    @property
    def is_completed(self) -> bool:
        """True once the stream is exhausted and the run succeeded."""
        outcome = self._outcome
        return self._exhausted and outcome is not None and outcome.error is None

    @property
    def is_cancelled(self) -> bool:
        """True if the session was closed before the end (or the run was cancelled)."""
        outcome = self._outcome
        return (self._closed and not self._exhausted) or (outcome is not None and outcome.cancelled)

    @property
    def frames(self) -> list[StreamFrame]:
        """A copy of the frames read so far (empty with ``keep_frames=False``)."""
        return list(self._frames)

    @property
    def result(self) -> Any:
        """The run's result; re-raises its error. Raises RuntimeError before the end."""
        if not self._exhausted:
            raise RuntimeError(_CLOSED_EARLY if self._closed else _NOT_DONE)
        outcome = self._outcome
        assert outcome is not None
        if outcome.error is not None:
            raise outcome.error
        if outcome.cancelled:
            raise RuntimeError(_CLOSED_EARLY)
        return outcome.result

    @abstractmethod
    def _projection(self, channels: frozenset[str] | None) -> P:
        """An iterator over the frames of *channels* (all if None)."""

    @property
    def events(self) -> P:
        """Every frame."""
        return self._projection(None)

    @property
    def llm(self) -> P:
        """Frames of the "llm" channel: LLM calls and their token chunks."""
        return self._projection(frozenset({"llm"}))

    @property
    def messages(self) -> P:
        """Frames of the "messages" channel: the conversation transcript."""
        return self._projection(frozenset({"messages"}))

    @property
    def flow(self) -> P:
        """Frames of the "flow" channel: flow lifecycle, methods, routing."""
        return self._projection(frozenset({"flow"}))

    @property
    def tools(self) -> P:
        """Frames of the "tools" channel: tool usage."""
        return self._projection(frozenset({"tools"}))

    @property
    def lifecycle(self) -> P:
        """Frames of the "lifecycle" channel: crew, task and agent lifecycle."""
        return self._projection(frozenset({"lifecycle"}))

    def interleave(self, channels: Iterable[str]) -> P:
        """Frames of the chosen channels, in the run's global order."""
        return self._projection(_channel_set(channels))

    def _record(self, event: Any) -> StreamFrame:
        frame = StreamFrame.from_event(event)
        if self._keep_frames:
            self._frames.append(frame)
        return frame

    def _end(self, outcome: Outcome) -> None:
        self._outcome = outcome
        self._exhausted = True

    def _raise_if_failed(self) -> None:
        outcome = self._outcome
        if outcome is not None and outcome.error is not None:
            raise outcome.error

    def _replay(self, channels: frozenset[str] | None) -> list[StreamFrame]:
        if not self._keep_frames:
            raise RuntimeError(
                "this stream was opened with keep_frames=False, so its frames cannot be "
                "replayed; iterate it once, as it runs"
            )
        return [f for f in self._frames if channels is None or f.channel in channels]


class StreamSession(_SessionState["_SyncProjection"]):
    """A synchronous stream of a run's frames (see the module docs).

    Args:
        start: starts the run (given by the entry point, e.g. ``crew.stream_events``).
        buffer_size: frames buffered between the run and the reader before the run
            waits for the reader (default 256).
        keep_frames: remember the frames for ``frames`` and replay; turn it off for
            long streams so memory stays flat.
        backend: the helper loop's backend, default ``ANYCREW_BACKEND`` or asyncio.
    """

    def __init__(
        self,
        start: Start,
        *,
        buffer_size: int | None = None,
        keep_frames: bool = True,
        backend: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(start, buffer_size, keep_frames)
        self._backend = backend or default_backend()
        self._driver: ThreadDriver | None = None

    def _ensure_started(self) -> ThreadDriver | None:
        if self._driver is None and not self._closed and not self._exhausted:
            driver = ThreadDriver(self._start, self._buffer_size, self._backend)
            weakref.finalize(self, driver.cancel)
            driver.open()
            self._driver = driver
        return self._driver

    def _next_frame(self) -> StreamFrame | None:
        if self._closed or self._exhausted:
            return None
        driver = self._ensure_started()
        if driver is None:
            return None
        event = driver.next_event_sync()
        if event is None:
            self._end(driver.outcome)
            return None
        return self._record(event)

    def __enter__(self) -> StreamSession:
        self._ensure_started()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel the run unless it is over, and wait until it has stopped (idempotent)."""
        self._closed = True
        if self._driver is not None:
            self._driver.close()

    def cancel(self) -> None:
        """Cancel the run unless it is over, without waiting for it to stop."""
        self._closed = True
        if self._driver is not None:
            self._driver.cancel()

    def _projection(self, channels: frozenset[str] | None) -> _SyncProjection:
        return _SyncProjection(self, channels)

    def __iter__(self) -> _SyncProjection:
        return self.events


class _SyncProjection:
    """An iterator over one session's frames, filtered by channel."""

    def __init__(self, session: StreamSession, channels: frozenset[str] | None) -> None:
        self._session = session
        self._channels = channels
        self._replay = iter(session._replay(channels)) if session.is_exhausted else None

    def __iter__(self) -> _SyncProjection:
        return self

    def __next__(self) -> StreamFrame:
        if self._replay is not None:
            for cached in self._replay:
                return cached
            self._session._raise_if_failed()
            raise StopIteration
        channels = self._channels
        while True:
            frame = self._session._next_frame()
            if frame is None:
                self._session._raise_if_failed()
                raise StopIteration
            if channels is None or frame.channel in channels:
                return frame


class AsyncStreamSession(_SessionState["_AsyncProjection"]):
    """An asynchronous stream of a run's frames (see the module docs).

    Use ``async with session:`` to run it as a child of the current task; iterate it
    without ``async with`` and it runs on a helper thread instead. Arguments as for
    :class:`StreamSession`.
    """

    def __init__(
        self,
        start: Start,
        *,
        buffer_size: int | None = None,
        keep_frames: bool = True,
    ) -> None:
        super().__init__(start, buffer_size, keep_frames)
        self._loop_driver: LoopDriver | None = None
        self._thread_driver: ThreadDriver | None = None

    async def __aenter__(self) -> AsyncStreamSession:
        if self._loop_driver is not None or self._thread_driver is not None:
            raise RuntimeError("this stream session is already running; enter it only once")
        driver = LoopDriver(self._start, self._buffer_size)
        await driver.open()
        self._loop_driver = driver
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        await self.aclose()
        return None

    async def _next_frame(self) -> StreamFrame | None:
        if self._exhausted or self._closed:
            return None
        driver: LoopDriver | ThreadDriver | None = self._loop_driver or self._thread_driver
        if driver is None:
            thread_driver = ThreadDriver(self._start, self._buffer_size, current_backend())
            weakref.finalize(self, thread_driver.cancel)
            await anyio.to_thread.run_sync(thread_driver.open)
            driver = self._thread_driver = thread_driver
        event = await driver.next_event()
        if event is None:
            self._end(driver.outcome)
            return None
        return self._record(event)

    def close(self) -> None:
        """Blocking :meth:`aclose`, for a session read without ``async with``.

        Inside ``async with`` it only requests the cancellation; leaving the block
        waits for the run to stop.
        """
        self._closed = True
        if self._loop_driver is not None:
            self._loop_driver.cancel()
        elif self._thread_driver is not None:
            self._thread_driver.close()

    def cancel(self) -> None:
        """Cancel the run unless it is over, without waiting for it to stop."""
        self._closed = True
        if self._loop_driver is not None:
            self._loop_driver.cancel()
        elif self._thread_driver is not None:
            self._thread_driver.cancel()

    async def aclose(self) -> None:
        """Cancel the run unless it is over, and wait until it has stopped (idempotent)."""
        self._closed = True
        if self._loop_driver is not None:
            await self._loop_driver.aclose()
            self._loop_driver = None
        elif self._thread_driver is not None:
            await anyio.to_thread.run_sync(self._thread_driver.close)

    def _projection(self, channels: frozenset[str] | None) -> _AsyncProjection:
        return _AsyncProjection(self, channels)

    def __aiter__(self) -> _AsyncProjection:
        return self.events


class _AsyncProjection:
    """An async iterator over one session's frames, filtered by channel."""

    def __init__(self, session: AsyncStreamSession, channels: frozenset[str] | None) -> None:
        self._session = session
        self._channels = channels
        self._replay = iter(session._replay(channels)) if session.is_exhausted else None

    def __aiter__(self) -> _AsyncProjection:
        return self

    async def __anext__(self) -> StreamFrame:
        if self._replay is not None:
            for cached in self._replay:
                return cached
            self._session._raise_if_failed()
            raise StopAsyncIteration
        channels = self._channels
        while True:
            frame = await self._session._next_frame()
            if frame is None:
                self._session._raise_if_failed()
                raise StopAsyncIteration
            if channels is None or frame.channel in channels:
                return frame
