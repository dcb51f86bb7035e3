"""Where the engine's event loop runs: the sync driver and the thread shim.

There is one async engine. ``kickoff()`` drives it on a private loop
(:func:`run_blocking`); ``kickoff_async()`` runs ``kickoff()`` in a worker thread
(:func:`run_in_worker`) and bridges the awaiting task's cancellation into the
worker's private loop, so cancelling the caller stops the run inside the thread and
the caller returns only once the thread is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, copy_context
from typing import Any, Final, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.from_thread import start_blocking_portal

from ._scope import _current_run, bind, unwrap_group

T = TypeVar("T")

#: Default number of worker threads anycrew's own work may hold at once per loop.
DEFAULT_THREAD_LIMIT: Final = 40

_limiter: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar(
    "anycrew_thread_limiter"
)


def thread_limiter() -> anyio.CapacityLimiter:
    """anycrew's worker-thread limiter for the current event loop.

    Its size comes from ``ANYCREW_THREAD_LIMIT`` (default 40). Separate from anyio's
    default limiter, so an application's own ``to_thread`` calls and anycrew's do not
    starve each other.
    """
    try:
        return _limiter.get()
    except LookupError:
        pass
    raw = os.environ.get("ANYCREW_THREAD_LIMIT", "").strip() or str(DEFAULT_THREAD_LIMIT)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"ANYCREW_THREAD_LIMIT must be a positive integer, got {raw!r}")
    limiter = anyio.CapacityLimiter(int(raw))
    _limiter.set(limiter)
    return limiter


def current_backend() -> tuple[str, dict[str, Any]]:
    """Name and options of the running anyio backend ("asyncio", with uvloop if used, or "trio")."""
    token = anyio.lowlevel.current_token()
    if not isinstance(token.native_token, asyncio.AbstractEventLoop):
        return "trio", {}
    loop = asyncio.get_running_loop()
    return "asyncio", {"use_uvloop": type(loop).__module__.startswith("uvloop")}


def default_backend() -> tuple[str, dict[str, Any]]:
    """The backend for private loops: ``ANYCREW_BACKEND`` (asyncio, trio, uvloop) or asyncio."""
    name = os.environ.get("ANYCREW_BACKEND", "asyncio").strip().lower() or "asyncio"
    if name == "uvloop":
        return "asyncio", {"use_uvloop": True}
    if name not in ("asyncio", "trio"):
        raise ValueError(f"ANYCREW_BACKEND must be 'asyncio', 'trio' or 'uvloop', got {name!r}")
    return name, {}


def loop_running_in_this_thread() -> bool:
    """True if an asyncio or trio event loop is running in the calling thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return True
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            return False
        return True
    return False


_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str) -> None:
    """Issue a RuntimeWarning for *key* the first time only."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, RuntimeWarning, stacklevel=4)


_carried: list[ContextVar[Any]] = []


def carry_into_helper_threads(var: ContextVar[Any]) -> None:
    """Make *var*'s value follow a run into the loops the runtime starts in new threads.

    ``kickoff_async`` and ``kickoff`` copy the caller's whole context already; the
    helper threads of a stream session and of a ``kickoff()`` called from a thread
    that runs a loop start from an empty one, so only the variables registered here
    (settings the domain scopes to a block, such as scoped hooks) are carried there.
    """
    if var not in _carried:
        _carried.append(var)


Carried = tuple[tuple[ContextVar[Any], Any], ...]


def capture_carried() -> Carried:
    """The values of the carried variables in the calling context."""
    context = copy_context()
    return tuple((var, context[var]) for var in _carried if var in context)


def apply_carried(values: Carried) -> None:
    """Set the captured *values* in the calling context."""
    for var, value in values:
        var.set(value)


async def _carrying(
    values: Carried, async_fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]
) -> T:
    apply_carried(values)
    return await async_fn(*args)


class CancelBridge:
    """Carries a host task's cancellation into a worker thread's private loop.

    The host calls :meth:`cancel` from its own thread; the worker registers its run's
    cancel scope with :meth:`attach` once its loop is running. Either order works: a
    cancel that arrives before the worker attaches is applied on attachment.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._scope: anyio.CancelScope | None = None
        self._call_soon: Callable[[Callable[[], object]], object] | None = None
        self._loop_thread: int | None = None

    def apply_pending(self) -> None:
        """Cancel the worker's run now if the host asked, from the worker loop's thread.

        The host's request reaches the worker's loop as a callback, which runs only
        when the loop next gets to its queue; work that starts before that (an LLM
        call right after a busy step) checks here first.
        """
        if self._requested and self._loop_thread == threading.get_ident():
            with self._lock:
                if self._scope is not None:
                    self._scope.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self._requested

    def attach(self, scope: anyio.CancelScope) -> None:
        """Register the worker loop's cancel scope (call from inside that loop)."""
        native: Any = anyio.lowlevel.current_token().native_token
        call_soon = (
            native.call_soon_threadsafe
            if isinstance(native, asyncio.AbstractEventLoop)
            else native.run_sync_soon  # a trio.lowlevel.TrioToken
        )
        with self._lock:
            if self._requested:
                scope.cancel()
            self._scope = scope
            self._call_soon = call_soon
            self._loop_thread = threading.get_ident()

    def detach(self) -> None:
        with self._lock:
            self._scope = None
            self._call_soon = None
            self._loop_thread = None

    def cancel(self) -> None:
        """Request cancellation of the worker's run (from any thread; idempotent)."""
        with self._lock:
            self._requested = True
            scope, call_soon = self._scope, self._call_soon
            if scope is None or call_soon is None:
                return
            # RuntimeError: the worker's loop closed between its last step and this
            # call, so there is nothing left to cancel.
            with contextlib.suppress(RuntimeError):
                call_soon(scope.cancel)


_bridge: ContextVar[CancelBridge | None] = ContextVar("anycrew_cancel_bridge", default=None)


async def checkpoint_if_cancelled() -> None:
    """Raise the cancellation exception if the current task is cancelled.

    Like ``anyio.lowlevel.checkpoint_if_cancelled()``, and also in a worker's
    private loop (``kickoff_async``, sync stream sessions) whose host has been
    cancelled but whose loop has not yet run the callback carrying that news:
    anycrew calls it before starting an LLM call or a tool, so none starts after
    the caller's cancel, however busy the machine.
    """
    bridge = _bridge.get()
    if bridge is not None:
        bridge.apply_pending()
    await anyio.lowlevel.checkpoint_if_cancelled()


def run_blocking(
    async_fn: Callable[..., Awaitable[T]],
    *args: Any,
    backend: tuple[str, dict[str, Any]] | None = None,
    entry_name: str = "kickoff",
    async_name: str = "akickoff",
) -> T:
    """Drive ``async_fn(*args)`` to completion from synchronous code.

    Runs it on a private event loop in the calling thread; if that thread is already
    running a loop (a notebook, a sync handler in an async server), runs it on a
    private loop in a helper thread instead, and warns once that the async entry
    would serve better. The backend is *backend*, else ``ANYCREW_BACKEND`` (asyncio,
    trio or uvloop; default asyncio).
    """
    name, options = backend if backend is not None else default_backend()
    if loop_running_in_this_thread():
        warn_once(
            f"{entry_name}-in-loop",
            f"{entry_name}() was called from a thread that is running an event loop; "
            f"it runs on a helper thread and blocks this loop until it finishes. "
            f"Use 'await {async_name}()' instead.",
        )
        values = capture_carried()
        with start_blocking_portal(name, options or None) as portal:
            result: T = portal.call(_carrying, values, async_fn, args)
            return result
    relay = _relay.get()
    run = _current_run.get()
    if relay is not None and run is not None and run.thread_id != threading.get_ident():
        # Sync code of a run (a tool, a callback, a flow method) kicking off a crew:
        # it runs on the run's own loop as a child of the run, its events nest in the
        # run's, and the relay cancels it when the sync code's caller is cancelled.
        # The watcher first, then the check: a cancel before the watcher exists is
        # seen here, any later one reaches the watcher (a task started in a scope
        # that is already cancelled is not cancelled on asyncio).
        anyio.from_thread.run_sync(relay.watch, token=run.token)
        anyio.from_thread.check_cancelled()
        outcome = anyio.from_thread.run(_relayed, relay, async_fn, args, token=run.token)
        if isinstance(outcome, _Cancelled):
            anyio.from_thread.check_cancelled()  # raises the host's own cancellation
            raise RuntimeError("the host's cancellation could not be re-raised")  # pragma: no cover
        return outcome
    if not _in_worker_thread():
        return anyio.run(async_fn, *args, backend=name, backend_options=options or None)
    # In a worker thread of some other loop's run: the host's cancellation must
    # reach this private loop too.
    outcome = anyio.run(
        _watching_host, async_fn, args, backend=name, backend_options=options or None
    )
    if isinstance(outcome, _Cancelled):
        anyio.from_thread.check_cancelled()  # raises the host's own cancellation
        raise RuntimeError("the host's cancellation could not be re-raised")  # pragma: no cover
    return outcome


class _Relay:
    """The cancel scopes of runs started, through :func:`run_blocking`, from one piece of
    sync code running in a worker thread; cancelled together when its caller is.

    Most sync code starts no run, so the task that notices the caller's cancellation
    is started only with the first run the code starts (in the caller's task group,
    hence inside the caller's cancel scopes).
    """

    def __init__(self, task_group: anyio.abc.TaskGroup) -> None:
        self.scopes: set[anyio.CancelScope] = set()
        self.cancelled = False
        self.done = False
        self._task_group: anyio.abc.TaskGroup | None = task_group

    def watch(self) -> None:
        """Make sure the caller's cancellation reaches the runs (on the loop thread)."""
        if self._task_group is not None:
            self._task_group.start_soon(self._relay_cancellation)
            self._task_group = None

    async def _relay_cancellation(self) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            if not self.done:
                self.cancel()

    def cancel(self) -> None:
        self.cancelled = True
        for scope in self.scopes:
            scope.cancel()


_relay: ContextVar[_Relay | None] = ContextVar("anycrew_relay", default=None)


async def _relayed(
    relay: _Relay, async_fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]
) -> T | _Cancelled:
    with anyio.CancelScope() as scope:
        if relay.cancelled:
            scope.cancel()
        relay.scopes.add(scope)
        try:
            return await async_fn(*args)
        finally:
            relay.scopes.discard(scope)
    return _Cancelled()


async def run_sync_in_run(func: Callable[..., T], *args: Any) -> T:
    """Run the user's sync *func* in a worker thread (anycrew's limiter), as part of the run.

    The thread cannot be interrupted: the caller waits for it, and it learns of a
    cancellation through ``anycrew.checkpoint()``. A crew it kicks off with the sync
    ``kickoff()`` runs on this loop as a child of the current run, and is cancelled
    when the caller is.
    """
    import outcome

    async with anyio.create_task_group() as tg:
        relay = _Relay(tg)
        token = _relay.set(relay)  # the worker thread gets a copy of this context
        try:
            result = await anyio.to_thread.run_sync(
                outcome.capture, func, *args, limiter=thread_limiter()
            )
        finally:
            relay.done = True
            _relay.reset(token)
            tg.cancel_scope.cancel()
    # The thread's wait is shielded: a cancel that came meanwhile is raised here, so
    # the run does not carry on as if nothing happened (there may be no checkpoint
    # before the run's end).
    await checkpoint_if_cancelled()
    return result.unwrap()


#: How often a private loop inside a worker thread checks whether its host was cancelled.
HOST_POLL_INTERVAL: Final = 0.005


def _in_worker_thread() -> bool:
    try:
        anyio.from_thread.check_cancelled()
    except RuntimeError:
        return False  # not a thread started by an event loop's to_thread
    except BaseException:
        return True  # a worker thread whose host is already cancelled
    return True


async def _watching_host(
    async_fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]
) -> T | _Cancelled:
    result: list[T] = []

    async def watch(scope: anyio.CancelScope) -> None:
        while True:
            await anyio.sleep(HOST_POLL_INTERVAL)
            try:
                anyio.from_thread.check_cancelled()
            except BaseException:
                scope.cancel()
                return

    with anyio.CancelScope() as scope:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch, scope)
                result.append(await async_fn(*args))
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise unwrap_group(group) from None
    return result[0] if result else _Cancelled()


class _Cancelled:
    """What a bridged worker run returns when its host cancelled it."""


async def _bridged(
    bridge: CancelBridge, async_fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]
) -> T | _Cancelled:
    with anyio.CancelScope() as scope, bind(_bridge, bridge):
        bridge.attach(scope)
        try:
            return await async_fn(*args)
        finally:
            bridge.detach()
    return _Cancelled()


async def run_in_worker(
    async_fn: Callable[..., Awaitable[T]], *args: Any, backend: tuple[str, dict[str, Any]]
) -> T:
    """Drive ``async_fn(*args)`` on a private loop in a worker thread (the thread shim).

    The thread comes from anycrew's :func:`thread_limiter`; its private loop uses
    *backend*. If the awaiting task is cancelled, the cancellation is bridged into
    the worker's loop, which stops the run there; this function still waits for the
    thread to finish (no abandoned threads), then the cancellation propagates to the
    caller unchanged.
    """
    import outcome  # only the shim needs it; keep it off the import path

    bridge = CancelBridge()
    done = False
    finished = anyio.Event()

    def worker() -> T | _Cancelled:
        name, options = backend
        return anyio.run(
            _bridged, bridge, async_fn, args, backend=name, backend_options=options or None
        )

    async def forward_cancellation() -> None:
        # Ends on its own when the thread is done (a task ended by cancellation
        # leaves its exception and frames in a cycle for the garbage collector);
        # only a cancellation of the caller reaches the finally early.
        try:
            await finished.wait()
        finally:
            if not done:
                bridge.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(forward_cancellation)
        try:
            result = await anyio.to_thread.run_sync(
                outcome.capture, worker, limiter=thread_limiter()
            )
            done = True
        finally:
            finished.set()
    value = result.unwrap()
    if isinstance(value, _Cancelled):
        # Only the host cancels through the bridge, so this checkpoint raises.
        await anyio.lowlevel.checkpoint()
        raise RuntimeError("the worker's run was cancelled but its caller was not")
    return value


def checkpoint() -> None:
    """Let cooperative sync code running in a worker thread notice cancellation.

    Call it regularly from a long sync tool or callback: once the run that started
    the thread is cancelled, it raises the backend's cancellation exception, which
    the tool should let propagate. Outside a worker thread it does nothing.
    """
    try:
        anyio.from_thread.check_cancelled()
    except RuntimeError:
        # Not in a worker thread started by an event loop: nothing to check.
        return


checkpoint.__module__ = "anycrew"
