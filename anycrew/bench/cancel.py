"""cancel: many in-flight crews cancelled at once, and what is left afterwards.

``crews`` crews of two sequential tasks, each a simulated call of 1 s, are
cancelled after 0.5 s (during their first call, so a second call starting after
the cancel would show work that kept going; by then every copy has started, though
``kickoff_for_each`` starts them in batches), once through ``akickoff_for_each`` and
once as concurrent ``kickoff_async`` calls (the thread shim). A simulator
``responder`` records when each LLM call starts.

The cancel is a task that sleeps 0.5 s and then cancels the enclosing task group,
noting the time: that is ``move_on_after(0.5)`` with the instant of the cancel
known. A deadline alone would not do: with a thousand crews starting, the loop is
busy and the deadline is acted on late, so calls started between the deadline and
the actual cancel would be miscounted as started after it.

Figures: how late the cancel came (ms past 0.5 s; the loop was busy), calls in
flight at the cancel, milliseconds from the cancel to the return, LLM calls
started after the cancel (must be 0), threads left after a short settle (threads
still running something: a thread idling in a worker pool, waiting for its next
job, is not one) and, on asyncio, tasks left.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType

import anyio

from ..adapters.llm.sim import default_reply
from ..crew import Crew
from ..llms.types import Message
from ._common import INPUTS, Figure, Settings, build_crew

#: Seconds the run is allowed before the cancel, and the simulated call's latency.
CANCEL_AFTER = 0.5
LATENCY = 1.0
#: Sequential tasks per crew: a run that ignored the cancel would start the second.
TASKS = 2
#: Seconds to wait after the return before counting threads and tasks.
SETTLE = 0.2

# Where an idle worker-pool thread waits for its next job: anyio's asyncio workers,
# trio's thread cache and concurrent.futures' workers.
_IDLE_WAITS = (
    ("_asyncio.py", "run", "get"),
    ("_thread_cache.py", "_work", None),
    ("thread.py", "_worker", "get"),
)


def busy_threads() -> int:
    """Threads other than the caller's that are running something (not idling in a pool)."""
    return len(busy_thread_idents())


def busy_thread_idents() -> set[int]:
    """The idents of the threads :func:`busy_threads` counts."""
    me = threading.get_ident()
    busy: set[int] = set()
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        names: list[tuple[str, str]] = []
        current: FrameType | None = frame
        while current is not None and len(names) < 3:
            names.append((current.f_code.co_filename, current.f_code.co_name))
            current = current.f_back
        if not any(_idle(names, wait) for wait in _IDLE_WAITS):
            busy.add(ident)
    return busy


def _idle(names: list[tuple[str, str]], wait: tuple[str, str, str | None]) -> bool:
    filename, function, inner = wait
    for depth, (file, name) in enumerate(names):
        if file.endswith(filename) and name == function:
            # The pool's loop itself, or directly inside its queue's get().
            return depth == 0 or (inner is not None and names[depth - 1][1] in (inner, "wait"))
    return False


#: The most warm-up rounds before the measured run.
WARMUPS = 5


class CallLog:
    """A simulator responder that records when each call starts (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.starts: list[float] = []

    def __call__(self, messages: list[Message]) -> str:
        with self._lock:
            self.starts.append(time.perf_counter())
        return default_reply(messages)


def running_tasks() -> int | None:
    """The number of asyncio tasks of the running loop, or None under trio."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # trio
        return None
    return len(asyncio.all_tasks())


async def akickoff_all(crew: Crew, crews: int) -> None:
    """Run *crews* copies of *crew* through ``akickoff_for_each``."""
    await crew.akickoff_for_each([INPUTS] * crews)


async def kickoff_async_all(crew: Crew, crews: int) -> None:
    """Run *crews* concurrent ``kickoff_async`` calls of *crew*."""
    async with anyio.create_task_group() as tg:
        for _ in range(crews):
            tg.start_soon(crew.kickoff_async, INPUTS)


async def measure(
    entry: str, start: Callable[[Crew, int], Awaitable[None]], crews: int
) -> list[Figure]:
    """Warm up with *start*, then cancel *crews* in-flight crews.

    The warm-up crews sleep a little, so they overlap and the thread pools grow to
    the size the measured run needs (repeated until the thread count stops
    growing); an idle pool thread is not a thread left.
    """
    warm = build_crew(1, latency=0.05)
    for _ in range(WARMUPS):
        # A pool may start a new thread while an old one is still on its way back to
        # idle, so it takes a few rounds to reach its steady size.
        before = threading.active_count()
        await start(warm, crews)
        await anyio.sleep(SETTLE)
        if threading.active_count() <= before:
            break
    calls = CallLog()
    crew = build_crew(1, TASKS, latency=LATENCY, responder=calls)
    threads_before = busy_threads()
    tasks_before = running_tasks()
    cancelled_at: list[float] = []
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:

        async def cancel_later() -> None:
            await anyio.sleep(CANCEL_AFTER)
            cancelled_at.append(time.perf_counter())
            tg.cancel_scope.cancel()

        tg.start_soon(cancel_later)
        await start(crew, crews)
    returned = time.perf_counter()
    if not cancelled_at:
        raise RuntimeError(f"{entry}: the crews finished before the cancel; nothing measured")
    cancel_at = cancelled_at[0]
    await anyio.sleep(SETTLE)
    tasks_after = running_tasks()
    label = f"{entry} x{crews}"
    late = cancel_at - started - CANCEL_AFTER
    figures = [
        Figure("cancel", f"{label} cancel came late by", round(late * 1000, 2), "ms"),
        Figure(
            "cancel",
            f"{label} LLM calls in flight at cancel",
            sum(t <= cancel_at for t in calls.starts),
            "calls",
        ),
        Figure(
            "cancel", f"{label} cancel to return", round((returned - cancel_at) * 1000, 2), "ms"
        ),
        Figure(
            "cancel",
            f"{label} LLM calls started after cancel",
            sum(t > cancel_at for t in calls.starts),
            "calls",
        ),
        Figure("cancel", f"{label} threads left", busy_threads() - threads_before, "threads"),
    ]
    if tasks_before is not None and tasks_after is not None:
        figures.append(Figure("cancel", f"{label} tasks left", tasks_after - tasks_before, "tasks"))
    return figures


async def run(settings: Settings) -> list[Figure]:
    """The cancel figures on the running backend."""
    native, shim = settings.cancel_crews
    return [
        *await measure("akickoff", akickoff_all, native),
        *await measure("kickoff_async", kickoff_async_all, shim),
    ]
