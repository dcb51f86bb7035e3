"""Cancellation: a cancelled kickoff stops at once and leaves nothing running."""

from __future__ import annotations

import asyncio
import threading
import time
from functools import partial
from typing import Any

import anyio
import pytest

from anycrew import LLM, Agent, Crew, Task
from anycrew.events import (
    AgentExecutionCancelledEvent,
    CrewKickoffCancelledEvent,
    LLMCallStartedEvent,
    TaskCancelledEvent,
    event_bus,
)

from .conftest import Recorder, cancel_while_busy, make_crew, warm_thread_pools

CANCEL_AT = 0.3
RETURN_WITHIN = 0.2


class CountingLLM:
    """A simulator with latency whose calls are counted as they start."""

    def __init__(self, latency: float) -> None:
        self.started = 0
        self.llm = LLM(model="sim", latency=latency, responder=self._respond)

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        self.started += 1
        return "Final Answer: done"


async def _pending_tasks() -> set[Any]:
    if anyio.lowlevel.current_token().native_token.__class__.__module__.startswith("trio"):
        return set()
    return {t for t in asyncio.all_tasks() if not t.done()} - {asyncio.current_task()}


async def _threads_settle(before: int, within: float = 0.5) -> int:
    # Worker threads leave shortly after their last job: give them a bounded while.
    deadline = time.monotonic() + within
    while threading.active_count() > before and time.monotonic() < deadline:
        await anyio.sleep(0.01)
    return threading.active_count()


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancel_mid_run_stops_at_once_and_leaves_nothing(
    entry: str, recorder: Recorder
) -> None:
    counter = CountingLLM(latency=1.0)
    crew = make_crew(3, llm=counter.llm)
    await warm_thread_pools()
    await getattr(crew, entry)({"topic": "warm-up"})  # warms the pools this entry uses
    recorder.events.clear()
    counter.started = 0
    threads_before = threading.active_count()
    tasks_before = await _pending_tasks()

    started = time.monotonic()
    with anyio.move_on_after(CANCEL_AT) as scope:
        await getattr(crew, entry)({"topic": "cancellation"})
    returned = time.monotonic()

    assert scope.cancelled_caught
    assert returned - started - CANCEL_AT < RETURN_WITHIN
    # The first call was in flight; none started after the cancel.
    assert counter.started == 1
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    # Every handler has seen the cancellation events before the call returned.
    assert recorder.types[-3:] == [
        "agent_execution_cancelled",
        "task_cancelled",
        "crew_kickoff_cancelled",
    ]
    assert await _threads_settle(threads_before) <= threads_before
    assert await _pending_tasks() <= tasks_before


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancel_from_a_task_group_once_the_first_call_started(
    entry: str, recorder: Recorder
) -> None:
    counter = CountingLLM(latency=30.0)
    crew = make_crew(2, llm=counter.llm)
    # A thread-safe signal: for kickoff_async, handlers run on the worker's loop.
    first_call = threading.Event()
    event_bus.register_handler(LLMCallStartedEvent, lambda source, event: first_call.set())
    async with anyio.create_task_group() as tg:
        tg.start_soon(getattr(crew, entry), {"topic": "t"})
        assert await anyio.to_thread.run_sync(first_call.wait, 10)
        tg.cancel_scope.cancel()

    assert counter.started == 1
    cancelled = recorder.of(CrewKickoffCancelledEvent)
    assert len(cancelled) == 1
    assert len(recorder.of(TaskCancelledEvent)) == 1
    assert len(recorder.of(AgentExecutionCancelledEvent)) == 1
    # Cancellation events nest like the events they close.
    (task_cancelled,) = recorder.of(TaskCancelledEvent)
    (crew_started,) = [e for e in recorder.events if e.type == "crew_kickoff_started"]
    assert task_cancelled.parent_event_id == crew_started.event_id


def test_native_asyncio_task_cancel_propagates_unchanged() -> None:
    crew = make_crew(1, llm=LLM(model="sim", latency=30.0))

    async def main() -> None:
        task = asyncio.ensure_future(crew.akickoff({"topic": "t"}))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_native_trio_nursery_cancel_propagates() -> None:
    import trio
    import trio.testing

    crew = make_crew(1, llm=LLM(model="sim", latency=30.0))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(crew.akickoff, {"topic": "t"})
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        assert nursery.cancel_scope.cancelled_caught

    trio.run(main)


@pytest.mark.anyio
async def test_cancelled_for_each_stops_every_copy(recorder: Recorder) -> None:
    counter = CountingLLM(latency=1.0)
    crew = make_crew(2, llm=counter.llm)
    with anyio.move_on_after(CANCEL_AT):
        await crew.akickoff_for_each([{"topic": str(i)} for i in range(5)])
    assert counter.started == 5
    assert len(recorder.of(CrewKickoffCancelledEvent)) == 5
    assert len({e.run_id for e in recorder.of(CrewKickoffCancelledEvent)}) == 5


@pytest.mark.anyio
async def test_kickoff_async_cancel_reaches_a_cooperative_sync_callback(
    recorder: Recorder,
) -> None:
    """A sync task callback in a worker thread sees the cancel through checkpoint()."""
    import anycrew

    entered = threading.Event()
    progress: list[int] = []

    def slow_callback(output: Any) -> None:
        entered.set()
        for step in range(500):
            anycrew.checkpoint()
            progress.append(step)
            time.sleep(0.01)

    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim"))
    task = Task(description="d", expected_output="e", agent=agent, callback=slow_callback)
    crew = Crew(agents=[agent], tasks=[task])

    async with anyio.create_task_group() as tg:
        tg.start_soon(crew.kickoff_async, {})
        await anyio.to_thread.run_sync(entered.wait, 10)
        tg.cancel_scope.cancel()
    steps = len(progress)
    assert 0 < steps < 500
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    time.sleep(0.05)
    assert len(progress) == steps  # the callback stopped, it is not still running


@pytest.mark.anyio
async def test_a_stuck_handler_holds_a_cancelled_caller_only_for_the_drain_bound() -> None:
    from anycrew.events import CrewKickoffCompletedEvent, event_bus
    from anycrew.runtime import CANCELLED_DRAIN_TIMEOUT

    async def stuck(source: Any, event: CrewKickoffCompletedEvent) -> None:
        await anyio.sleep_forever()

    with event_bus.scoped_handlers():
        event_bus.register_handler(CrewKickoffCompletedEvent, stuck)
        started = time.monotonic()
        with anyio.move_on_after(0.2) as scope:
            await make_crew(1).akickoff({"topic": "t"})  # the run itself is done at once
        elapsed = time.monotonic() - started
    assert scope.cancelled_caught
    assert elapsed < 0.2 + CANCELLED_DRAIN_TIMEOUT + 1.0


@pytest.mark.anyio
async def test_a_crew_kicked_off_from_a_sync_callback_is_cancelled_with_its_host() -> None:
    inner_calls = CountingLLM(latency=1.0)
    inner = make_crew(3, llm=inner_calls.llm, name="inner")

    def kick_inner(output: Any) -> None:  # runs in a worker thread of the outer run
        inner.kickoff({"topic": "inner"})

    outer = make_crew(1, callback=kick_inner, name="outer")
    started = time.monotonic()
    with anyio.move_on_after(CANCEL_AT) as scope:
        await outer.akickoff({"topic": "outer"})
    assert scope.cancelled_caught
    assert time.monotonic() - started - CANCEL_AT < RETURN_WITHIN
    assert inner_calls.started == 1


@pytest.mark.anyio
async def test_kickoff_async_starts_no_call_while_the_cancel_is_on_its_way(
    recorder: Recorder,
) -> None:
    # The host's cancel reaches a kickoff_async worker as a callback on the worker's
    # loop. Here the worker's loop is busy (the first task's model blocks it) when
    # the host is cancelled, so that callback has not run when the first task ends:
    # the second task's LLM call must still not start.
    busy = threading.Event()
    release = threading.Event()
    started: list[str] = []

    def respond(messages: list[dict[str, Any]]) -> str:
        started.append(messages[-1]["content"])
        if len(started) == 1:
            busy.set()
            release.wait(10)
        return "Final Answer: done"

    crew = make_crew(2, llm=LLM(model="sim", responder=respond))
    scope = await cancel_while_busy(partial(crew.kickoff_async, {"topic": "t"}), busy, release)
    assert scope.cancelled_caught

    assert len(started) == 1
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert len(recorder.of(CrewKickoffCancelledEvent)) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_a_cancel_during_a_sync_callback_is_not_lost(entry: str, recorder: Recorder) -> None:
    # The caller is cancelled while a sync task callback runs in its thread; once it
    # returns, the run must stop there (no completion events, the cancellation ones
    # instead), even though nothing after it would otherwise checkpoint.
    busy = threading.Event()
    go = threading.Event()

    def callback(output: Any) -> None:
        busy.set()
        go.wait(10)

    crew = make_crew(1, llm=LLM(model="sim"))
    crew.tasks[0].callback = callback
    scope = await cancel_while_busy(partial(getattr(crew, entry), {"topic": "t"}), busy, go)

    assert scope.cancelled_caught
    types = [event.type for event in recorder.events]
    assert "task_completed" not in types
    assert "crew_kickoff_completed" not in types
    assert types[-2:] == ["task_cancelled", "crew_kickoff_cancelled"]
