"""Shared fixtures: every async test runs under asyncio and trio."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest

from anycrew import LLM, Agent, Crew, Task
from anycrew.events import BaseEvent, event_bus


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _private_storage_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep what kickoffs and flows store out of the user's data dir.

    Kickoffs store their task outputs only in the tests that ask for it (they unset
    ``ANYCREW_STORE_TASK_OUTPUTS``): the save's pooled worker thread would otherwise
    show up in the other tests' thread counts.
    """
    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(tmp_path_factory.getbasetemp() / "storage"))
    monkeypatch.setenv("ANYCREW_STORE_TASK_OUTPUTS", "0")


class Recorder:
    """Collects every event delivered to a sync handler, in delivery order."""

    def __init__(self) -> None:
        self.events: list[BaseEvent] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, source: Any, event: BaseEvent) -> None:
        with self._lock:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def of(self, cls: type[BaseEvent]) -> list[Any]:
        return [event for event in self.events if isinstance(event, cls)]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A sync handler for every event, registered in a scope of its own."""
    rec = Recorder()
    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, rec)
        yield rec


def make_crew(
    n_tasks: int = 1,
    *,
    llm: LLM | None = None,
    name: str = "crew",
    **task_kwargs: Any,
) -> Crew:
    """A crew of one agent and *n_tasks* tasks whose descriptions use {topic}."""
    agent = Agent(
        role="Analyst of {topic}",
        goal="Explain {topic}",
        backstory="Knows {topic} well",
        llm=llm or LLM(model="sim"),
    )
    tasks = [
        Task(
            description=f"Step {i + 1}: study {{topic}}",
            expected_output="One line",
            agent=agent,
            name=f"step{i + 1}",
            **task_kwargs,
        )
        for i in range(n_tasks)
    ]
    return Crew(agents=[agent], tasks=tasks, name=name)


@pytest.fixture
def crew_factory() -> Callable[..., Crew]:
    return make_crew


async def warm_thread_pools(size: int = 4) -> None:
    """Start (and leave idle) the pooled worker threads a kickoff may use.

    Idle pooled workers are not leaks; warming the pools first lets tests compare
    thread counts before and after a run. The calls wait for each other, so *size*
    distinct threads are created. (trio's thread cache is process-wide, so private
    trio loops reuse these threads too.)
    """
    barrier = threading.Barrier(size)
    async with anyio.create_task_group() as tg:
        for _ in range(size):
            tg.start_soon(anyio.to_thread.run_sync, barrier.wait, 10)


def settle_threads(before: int, within: float = 1.0) -> int:
    """The thread count once it is back to *before*, or after *within* seconds.

    Threads that were told to stop without being waited for (a stream dropped by
    its reader) end a moment later; this gives them a bounded while.
    """
    deadline = time.monotonic() + within
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.005)
    return threading.active_count()


#: How a test awaits a crew's kickoff: ``await entry(crew, inputs)``.
Entry = Callable[[Crew, Any], Awaitable[Any]]


async def via_akickoff(crew: Crew, inputs: Any) -> Any:
    return await crew.akickoff(inputs)


async def via_kickoff(crew: Crew, inputs: Any) -> Any:
    # The sync entry, from a worker thread (it drives a private loop of its own).
    return await anyio.to_thread.run_sync(crew.kickoff, inputs)


async def via_kickoff_async(crew: Crew, inputs: Any) -> Any:
    return await crew.kickoff_async(inputs)


#: The three entry points, by name, for parity tests.
ENTRIES: dict[str, Entry] = {
    "akickoff": via_akickoff,
    "kickoff": via_kickoff,
    "kickoff_async": via_kickoff_async,
}


async def cancel_while_busy(
    start: Callable[[], Awaitable[Any]], busy: threading.Event, release: threading.Event
) -> anyio.CancelScope:
    """Run ``start()`` in a cancel scope and cancel it while a worker thread is busy.

    Once the worker sets *busy*, the scope is cancelled; when every task of the host
    is blocked (the cancel has been handed on), *release* lets the worker go on.
    Returns the scope, to check ``cancelled_caught``.
    """
    scope = anyio.CancelScope()

    async def run() -> None:
        with scope:
            await start()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        assert await anyio.to_thread.run_sync(busy.wait, 10)
        scope.cancel()
        await anyio.wait_all_tasks_blocked()
        release.set()
    return scope
