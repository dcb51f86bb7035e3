"""The engine on its own: run scopes, the pipe's ordering, backpressure and draining."""

from __future__ import annotations

import os
import threading
import uuid
import warnings
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.abc
import pytest

from anycrew import runtime
from anycrew.events import BaseEvent
from anycrew.runtime import AsyncHandler, Run, RunFinishedError, SyncHandler

pytestmark = pytest.mark.anyio


class Ping(BaseEvent):
    n: int = 0


class Router:
    def __init__(
        self, sync: Sequence[SyncHandler] = (), async_: Sequence[AsyncHandler] = ()
    ) -> None:
        self.sync, self.async_ = list(sync), list(async_)
        self.quiet = not (sync or async_)

    def handlers_for(self, event: Any) -> tuple[Sequence[SyncHandler], Sequence[AsyncHandler]]:
        return self.sync, self.async_

    def routes(self, event_type: type) -> bool:
        return bool(self.sync or self.async_)


async def test_slow_consumers_lose_nothing_and_keep_order() -> None:
    sync_seen: list[int] = []
    async_seen: list[int] = []

    def sync_handler(source: Any, event: Ping) -> None:
        sync_seen.append(event.n)

    async def async_handler(source: Any, event: Ping) -> None:
        await anyio.sleep(0)
        async_seen.append(event.n)

    async def body(run: Run) -> int:
        async def producer(start: int) -> None:
            for n in range(start, 3000, 2):
                await runtime.emit(None, Ping(n=n))

        async with anyio.create_task_group() as tg:
            tg.start_soon(producer, 0)
            tg.start_soon(producer, 1)
        return run.pipe.emitted

    emitted = await runtime.open_run(
        body, router=Router([sync_handler], [async_handler]), buffer_size=4
    )
    assert emitted == 3000
    # Two producers interleave, but every lane sees one and the same order.
    assert sorted(sync_seen) == list(range(3000))
    assert sync_seen == async_seen


async def test_sync_emits_on_the_loop_back_up_in_order() -> None:
    seen: list[int] = []

    async def slow(source: Any, event: Ping) -> None:
        await anyio.sleep(0)
        seen.append(event.n)

    async def body(run: Run) -> None:
        for n in range(50):
            run.pipe.emit_nowait(None, Ping(n=n), None)  # never blocks, buffer is 2
        await runtime.emit(None, Ping(n=50))  # waits behind the backlog

    await runtime.open_run(body, router=Router(async_=[slow]), buffer_size=2)
    assert seen == list(range(51))


async def test_subscription_receives_its_channels_until_the_run_ends() -> None:
    class Loud(BaseEvent):
        channel = "messages"

    received: list[str] = []
    subscriptions: list[Any] = []
    subscribed = anyio.Event()

    async def body(run: Run) -> None:
        subscriptions.append(run.pipe.subscribe(frozenset({"messages"}), buffer_size=1))
        subscribed.set()
        for _ in range(5):
            await runtime.emit(None, Loud())
            await runtime.emit(None, Ping())

    # The reader lives outside the run: the subscription ends when the run does.
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: runtime.open_run(body, router=Router()))
        await subscribed.wait()
        async with subscriptions[0] as subscription:
            async for event in subscription:
                received.append(event.type)
    assert received == ["loud"] * 5


async def test_a_finished_run_refuses_events() -> None:
    pipes: list[runtime.EventPipe] = []

    async def body(run: Run) -> None:
        pipes.append(run.pipe)

    await runtime.open_run(body, router=Router())
    with pytest.raises(RunFinishedError, match="has finished"):
        await pipes[0].emit(None, Ping(), None)
    with pytest.raises(RuntimeError, match="outside of a run"):
        await runtime.emit(None, Ping())


async def test_a_cancelled_run_still_delivers_its_last_events() -> None:
    seen: list[int] = []

    async def slow(source: Any, event: Ping) -> None:
        await anyio.sleep(0.01)
        seen.append(event.n)

    async def body(run: Run) -> None:
        for n in range(5):
            await runtime.emit(None, Ping(n=n))
        try:
            await anyio.sleep_forever()
        finally:
            await runtime.emit_shielded(None, Ping(n=99))

    with anyio.move_on_after(0.01):
        await runtime.open_run(body, router=Router(async_=[slow]))
    assert seen == [0, 1, 2, 3, 4, 99]


async def test_nested_runs_share_the_parents_pipe() -> None:
    async def inner(run: Run) -> tuple[str, Run | None]:
        await runtime.emit(None, Ping(n=2))
        return run.run_id, run.parent

    async def outer(run: Run) -> tuple[Run, tuple[str, Run | None]]:
        await runtime.emit(None, Ping(n=1))
        return run, await runtime.open_run(inner, router=Router())

    seen: list[tuple[int, int | None]] = []
    router = Router([lambda s, e: seen.append((e.n, e.emission_sequence))])
    run, (inner_id, inner_parent) = await runtime.open_run(outer, router=router)
    assert inner_id == run.run_id
    assert inner_parent is run
    assert seen == [(1, 0), (2, 1)]


async def test_single_errors_are_unwrapped_and_groups_kept() -> None:
    async def one(run: Run) -> None:
        async def fail() -> None:
            raise KeyError("child")

        async with anyio.create_task_group() as tg:
            tg.start_soon(fail)
            await anyio.sleep_forever()

    with pytest.raises(KeyError, match="child"):
        await runtime.open_run(one, router=Router())

    async def two(run: Run) -> None:
        go = anyio.Event()

        async def fail(exc: Exception) -> None:
            await go.wait()  # both wake together, so both raise before any cancel lands
            raise exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(fail, KeyError("a"))
            tg.start_soon(fail, ValueError("b"))
            await anyio.wait_all_tasks_blocked()
            go.set()
            await anyio.sleep_forever()

    with pytest.RaisesGroup(KeyError, ValueError):
        await runtime.open_run(two, router=Router())


async def test_thread_limiter_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = runtime.thread_limiter()
    assert limiter is runtime.thread_limiter()
    assert limiter.total_tokens == 40


def test_thread_limit_env_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYCREW_THREAD_LIMIT", "zero")

    async def main() -> None:
        runtime.thread_limiter()

    with pytest.raises(ValueError, match="ANYCREW_THREAD_LIMIT"):
        anyio.run(main)
    monkeypatch.setenv("ANYCREW_THREAD_LIMIT", "3")

    async def sized() -> float:
        return runtime.thread_limiter().total_tokens

    assert anyio.run(sized) == 3


def test_checkpoint_outside_a_worker_thread_is_a_no_op() -> None:
    runtime.checkpoint()
    assert threading.current_thread() is threading.main_thread()


async def test_an_async_handler_may_emit_into_its_own_full_lane() -> None:
    seen: list[int] = []

    async def chatty(source: Any, event: Ping) -> None:
        seen.append(event.n)
        if event.n == 0:
            for n in range(1, 20):  # far more than the lane holds
                await runtime.emit(None, Ping(n=n))

    async def body(run: Run) -> None:
        await runtime.emit(None, Ping(n=0))

    with anyio.fail_after(10):
        await runtime.open_run(body, router=Router(async_=[chatty]), buffer_size=1)
    assert seen == list(range(20))


def test_ids_are_unique_and_shaped_like_uuid4() -> None:
    from anycrew.events.base import new_event_id

    hex_ids = {runtime.new_hex_id() for _ in range(10_000)}
    event_ids = {new_event_id() for _ in range(10_000)}
    assert len(hex_ids) == len(event_ids) == 10_000
    assert {len(value) for value in hex_ids} == {32}
    assert {len(value) for value in event_ids} == {36}
    for value in (next(iter(hex_ids)), next(iter(event_ids))):
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_its_own_ids() -> None:
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads; the child only
        # makes an id and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, runtime.new_hex_id().encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_id = pipe.read()
    os.waitpid(pid, 0)
    parent_id = runtime.new_hex_id()
    assert len(child_id) == 32
    # A new random prefix, not the parent's with its counter carried on.
    assert child_id[:20] != parent_id[:20]


def test_bind_all_sets_in_order_resets_in_reverse_and_skips_none() -> None:
    from contextvars import ContextVar

    first: ContextVar[int] = ContextVar("first", default=0)
    second: ContextVar[int] = ContextVar("second", default=0)
    block = runtime.bind_all(
        runtime.bind(first, 1), None, runtime.bind(first, 2), runtime.bind(second, 3)
    )
    with block:
        assert (first.get(), second.get()) == (2, 3)
    assert (first.get(), second.get()) == (0, 0)
    with pytest.raises(RuntimeError, match="only once"), block:
        pass


async def test_runs_sharing_a_caller_group_deliver_everything_before_returning() -> None:
    """Runs given the caller's task group keep their consumers there, and still
    return only once every handler has seen every one of their events."""
    seen: dict[str, list[int]] = {}

    async def slow(source: Any, event: Ping) -> None:
        await anyio.sleep(0)
        seen.setdefault(event.run_id or "", []).append(event.n)

    returned: dict[str, list[int]] = {}

    async def body(run: Run) -> str:
        for n in range(40):
            await runtime.emit(None, Ping(n=n))
        return run.run_id

    async def one(tg: anyio.abc.TaskGroup) -> None:
        run_id = await runtime.open_run(
            body, router=Router(async_=[slow]), buffer_size=2, task_group=tg
        )
        returned[run_id] = list(seen[run_id])  # what the handler had seen on return

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(one, tg)
    assert len(returned) == 3
    assert all(got == list(range(40)) for got in returned.values())


async def test_a_run_in_a_caller_group_raises_its_error_unwrapped() -> None:
    async def body(run: Run) -> None:
        async with anyio.create_task_group() as inner:

            async def fail() -> None:
                raise KeyError("inner")

            inner.start_soon(fail)
            await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        with pytest.raises(KeyError, match="inner"):
            await runtime.open_run(body, router=Router(), task_group=tg)


async def test_a_finished_run_leaves_no_reference_cycles(anyio_backend: str) -> None:
    """A run is freed by reference counting when it ends, not by the garbage
    collector: fan-outs of thousands of runs would otherwise keep every finished
    run's pipe and context alive until a full collection."""
    import gc

    from anycrew.runtime import CancelBridge, EventPipe

    async def body(run: Run) -> None:
        await runtime.emit(None, Ping(n=1))

    async def handler(source: Any, event: Ping) -> None:
        pass

    async def in_worker() -> int:
        return 1

    await runtime.open_run(body, router=Router())  # warm up one-time allocations
    await runtime.run_in_worker(in_worker, backend=runtime.current_backend())
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for router in (Router(), Router(async_=[handler])):
            await runtime.open_run(body, router=router)
        if anyio_backend == "asyncio":
            # The thread shim too (kickoff_async): its cancellation relay ends
            # cleanly. (Under trio, each private trio.run leaves its own runner in
            # cycles, which is trio's business.)
            backend = runtime.current_backend()
            assert await runtime.run_in_worker(in_worker, backend=backend) == 1
        gc.collect()
        # Only ours: whatever else the process left in cycles meanwhile is not.
        ours = [o for o in gc.garbage if isinstance(o, Run | EventPipe | CancelBridge)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
