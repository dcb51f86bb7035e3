"""threads: the thread shim's cost, ``kickoff_async`` against ``akickoff``.

N concurrent crews (one simulated call of ``latency`` each) run once as ``akickoff``
tasks and once as ``kickoff_async`` calls, each of which drives a private event
loop in a worker thread (at most ``ANYCREW_THREAD_LIMIT``, default 40, at once).
Figures: both wall times and their ratio.
"""

from __future__ import annotations

import time

import anyio

from ..crew import Crew
from ._common import INPUTS, Figure, Settings, build_crew


async def wall(crew: Crew, crews: int, *, shim: bool) -> float:
    """Seconds to run *crews* concurrent kickoffs of *crew* through one entry."""
    entry = crew.kickoff_async if shim else crew.akickoff
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(crews):
            tg.start_soon(entry, INPUTS)
    return time.perf_counter() - started


async def run(settings: Settings) -> list[Figure]:
    """The threads figures on the running backend."""
    crews = settings.thread_crews
    crew = build_crew(1, latency=settings.latency)
    await wall(build_crew(1), crews, shim=True)  # warms the worker threads
    native = await wall(crew, crews, shim=False)
    shim = await wall(crew, crews, shim=True)
    label = f"n={crews}"
    return [
        Figure("threads", f"{label} akickoff wall", round(native, 4), "s"),
        Figure("threads", f"{label} kickoff_async wall", round(shim, 4), "s"),
        Figure("threads", f"{label} kickoff_async / akickoff", round(shim / native, 2), "x"),
    ]
