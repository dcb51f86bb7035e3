"""fanout: N concurrent single-task crews at the simulated latency, against the floor.

For each N: the wall time of ``crew.akickoff_for_each`` over N inputs (one
simulated LLM call each, sleeping ``latency``); the wall time of N bare anyio tasks
each sleeping ``latency`` (the floor) and the ratio; the peak RSS growth per crew
(``ru_maxrss`` before and after, so N runs in ascending order); and the longest gap
seen by a task ticking every 1 ms during the run (the worst event-loop stall).
"""

from __future__ import annotations

import time

import anyio

from ._common import Figure, Settings, StallTicker, bare_sleepers, build_crew, log, peak_rss_kb


async def one(n: int, latency: float) -> list[Figure]:
    """The figures for *n* crews."""
    floor = await bare_sleepers(n, latency)
    crew = build_crew(1, latency=latency)
    inputs = [{"topic": str(i)} for i in range(n)]
    ticker = StallTicker()
    rss_before = peak_rss_kb()
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker.run)
        await anyio.sleep(0.002)  # a first tick, so the gap measured is the run's
        started = time.perf_counter()
        outputs = await crew.akickoff_for_each(inputs)
        wall = time.perf_counter() - started
        tg.cancel_scope.cancel()
    rss_after = peak_rss_kb()
    if not isinstance(outputs, list) or len(outputs) != n:
        raise RuntimeError(f"fanout: expected {n} crew outputs, got {outputs!r:.200}")
    label = f"n={n}"
    figures = [
        Figure("fanout", f"{label} wall", round(wall, 4), "s"),
        Figure("fanout", f"{label} floor (bare anyio sleeps)", round(floor, 4), "s"),
        Figure("fanout", f"{label} ratio to floor", round(wall / floor, 2), "x"),
        Figure("fanout", f"{label} max loop stall", round(ticker.longest * 1000, 2), "ms"),
    ]
    if rss_before is not None and rss_after is not None:
        per_crew = (rss_after - rss_before) / n
        figures.append(
            Figure("fanout", f"{label} peak RSS growth per crew", round(per_crew, 2), "KB")
        )
    return figures


async def run(settings: Settings) -> list[Figure]:
    """The fanout figures for every N, smallest first."""
    figures: list[Figure] = []
    for n in sorted(settings.fanout_ns):
        log(f"{settings.backend} fanout: {n} crews at {settings.latency} s")
        figures += await one(n, settings.latency)
    return figures
