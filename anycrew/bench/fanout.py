"""fanout: N concurrent single-task crews at the simulated latency, against the floor.

For each N, in rounds: the wall time of N bare anyio tasks each sleeping
``latency`` (the floor), then the wall time of ``crew.akickoff_for_each`` over N
inputs (one simulated LLM call each, sleeping ``latency``). Each round gives a
ratio of the two taken back to back, so a machine that slows down for a while
slows both; the figures are the medians over the rounds (and the best ratio).
Also the longest gap seen by a task ticking every 1 ms during any round (the
worst event-loop stall). The ticker runs beside the bare tasks too, so that both
sides of the ratio pay for it, and their stall is reported as well. Also the
memory of an in-flight crew: before the rounds, N crews are held inside their LLM
call until the last one arrives, so all N are in flight at once
(``kickoff_for_each`` starts copies in batches, so in the timed rounds early
copies finish while later ones start); the peak RSS growth over that, divided by
N, is the figure (``ru_maxrss``, so N runs in ascending order).
"""

from __future__ import annotations

import statistics
import time

import anyio

from ._common import Figure, Settings, StallTicker, bare_sleepers, build_crew, log, peak_rss_kb


async def _floor_wall(n: int, latency: float, ticker: StallTicker) -> float:
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker.run)
        await anyio.sleep(0.002)  # a first tick, so the gap measured is the floor's
        wall = await bare_sleepers(n, latency)
        tg.cancel_scope.cancel()
    return wall


async def _crews_wall(n: int, latency: float, ticker: StallTicker) -> float:
    crew = build_crew(1, latency=latency)
    inputs = [{"topic": str(i)} for i in range(n)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker.run)
        await anyio.sleep(0.002)  # a first tick, so the gap measured is the run's
        started = time.perf_counter()
        outputs = await crew.akickoff_for_each(inputs)
        wall = time.perf_counter() - started
        tg.cancel_scope.cancel()
    if not isinstance(outputs, list) or len(outputs) != n:
        raise RuntimeError(f"fanout: expected {n} crew outputs, got {outputs!r:.200}")
    return wall


async def _held_rss_per_crew(n: int) -> float | None:
    """Peak RSS growth per crew while *n* crews are all in flight, in KB."""
    before = peak_rss_kb()
    if before is None:  # pragma: no cover - Windows
        return None
    arrived = 0
    release = anyio.Event()

    async def hold(messages: object) -> str:
        nonlocal arrived
        arrived += 1
        if arrived == n:
            release.set()
        else:
            await release.wait()
        return "Final Answer: held"

    crew = build_crew(1, responder=hold)
    outputs = await crew.akickoff_for_each([{"topic": str(i)} for i in range(n)])
    after = peak_rss_kb()
    if not isinstance(outputs, list) or len(outputs) != n or after is None:
        raise RuntimeError(f"fanout: expected {n} held crew outputs, got {outputs!r:.200}")
    return (after - before) / n


async def one(n: int, latency: float, rounds: int = 1) -> list[Figure]:
    """The figures for *n* crews, over *rounds* rounds."""
    floors: list[float] = []
    walls: list[float] = []
    ticker, floor_ticker = StallTicker(), StallTicker()
    per_crew = await _held_rss_per_crew(n)
    for _ in range(rounds):
        floors.append(await _floor_wall(n, latency, floor_ticker))
        walls.append(await _crews_wall(n, latency, ticker))
    ratios = [wall / floor for wall, floor in zip(walls, floors, strict=True)]
    label = f"n={n}"
    figures = [
        Figure("fanout", f"{label} wall", round(statistics.median(walls), 4), "s"),
        Figure(
            "fanout",
            f"{label} floor (bare anyio sleeps)",
            round(statistics.median(floors), 4),
            "s",
        ),
        Figure("fanout", f"{label} ratio to floor", round(statistics.median(ratios), 2), "x"),
        Figure("fanout", f"{label} ratio to floor, best round", round(min(ratios), 2), "x"),
        Figure("fanout", f"{label} max loop stall", round(ticker.longest * 1000, 2), "ms"),
        Figure(
            "fanout",
            f"{label} max loop stall, bare tasks",
            round(floor_ticker.longest * 1000, 2),
            "ms",
        ),
    ]
    if per_crew is not None:
        figures.append(
            Figure("fanout", f"{label} peak RSS growth per crew", round(per_crew, 2), "KB")
        )
    return figures


async def run(settings: Settings) -> list[Figure]:
    """The fanout figures for every N, smallest first."""
    figures: list[Figure] = []
    for n in sorted(settings.fanout_ns):
        log(
            f"{settings.backend} fanout: {n} crews at {settings.latency} s, "
            f"{settings.fanout_rounds} round(s)"
        )
        figures += await one(n, settings.latency, settings.fanout_rounds)
    return figures
