"""max_rpm: an async token bucket that never blocks a thread."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from anycrew import LLM, Agent, Crew, Task
from anycrew.events import LLMCallStartedEvent
from anycrew.runtime import RateLimiter

from .conftest import Recorder

pytestmark = pytest.mark.anyio


async def test_bursts_up_to_the_limit_then_paces() -> None:
    limiter = RateLimiter(600)  # a burst of 600, then 10 a second
    started = time.monotonic()
    for _ in range(600):
        await limiter.acquire()
    burst = time.monotonic() - started
    started = time.monotonic()
    for _ in range(3):
        await limiter.acquire()
    paced = time.monotonic() - started
    assert burst < 0.1
    # Three more tokens at 10 a second; at most one refilled during the burst.
    assert paced >= 0.15


async def test_a_cancelled_wait_gives_its_token_back() -> None:
    limiter = RateLimiter(1)
    await limiter.acquire()
    with anyio.move_on_after(0.05):
        await limiter.acquire()  # would wait a minute
    with anyio.move_on_after(0.05) as scope:
        await limiter.acquire()
    assert scope.cancelled_caught  # still empty: the refund did not create a token


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_rpm must be a positive integer"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Agent(role="r", goal="g", backstory="b", max_rpm=0)


@pytest.mark.parametrize("where", ["agent", "crew"])
async def test_max_rpm_holds_calls_without_blocking(where: str, recorder: Recorder) -> None:
    agent = Agent(
        role="r",
        goal="g",
        backstory="b",
        llm=LLM(model="sim"),
        max_rpm=1 if where == "agent" else None,
    )
    tasks = [Task(description=f"t{i}", expected_output="x", agent=agent) for i in range(3)]
    crew = Crew(agents=[agent], tasks=tasks, max_rpm=1 if where == "crew" else None)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1

    threads = threading.active_count()
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        with anyio.move_on_after(0.3):
            await crew.akickoff()
        tg.cancel_scope.cancel()
    assert len(recorder.of(LLMCallStartedEvent)) == 1  # the second call waits its turn
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    assert ticks >= 5  # the loop kept running while the call waited
    assert threading.active_count() <= threads + 1
