"""overhead: framework cost of one ``akickoff`` at latency 0, against bare anyio.

For ``1x1`` (1 agent, 1 task) and ``3x3`` (3 agents, 3 tasks, sequential): the
median and nearest-rank p99 wall time of ``await crew.akickoff(...)`` on the
simulator at latency 0, so the time is anycrew's own work; the events one kickoff
emits (counted in a separate, untimed kickoff); and the ratio of the median to a
bare anyio task-group round trip on the same backend. And the same two figures for
``await flow.akickoff()`` of a three-method flow (a start and two chained async
listeners doing no work).
"""

from __future__ import annotations

from typing import Any

import anyio

from ..crew import Crew
from ..events import BaseEvent, event_bus
from ._common import INPUTS, Figure, Settings, build_crew, median_us, p99_us, time_calls

#: Scenario label -> agents (and tasks).
SIZES = {"1x1": 1, "3x3": 3}


async def baseline_round_trip() -> None:
    """One bare anyio task-group round trip: the unit of the ratio."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.sleep, 0)


def three_method_flow() -> type[Any]:
    """A flow of three async methods, each passing on one more than it got."""
    from ..flow import Flow, listen, start  # the flow engine loads only when measured

    class ThreeMethods(Flow[dict]):  # type: ignore[type-arg]
        @start()
        async def one(self) -> int:
            return 1

        @listen(one)
        async def two(self, value: int) -> int:
            return value + 1

        @listen(two)
        async def three(self, value: int) -> int:
            return value + 1

    return ThreeMethods


async def measure_flow(repeat: int, warmup: int) -> tuple[float, float]:
    """Median and p99 microseconds of one three-method flow kickoff."""
    flow_cls = three_method_flow()

    async def kickoff() -> None:
        if await flow_cls().akickoff() != 3:
            raise RuntimeError("overhead: the three-method flow did not return 3")

    samples = await time_calls(kickoff, repeat, warmup)
    return median_us(samples), p99_us(samples)


async def count_events(crew: Crew) -> int:
    """The number of events one kickoff of *crew* emits (a separate, untimed kickoff)."""
    seen: list[str] = []

    def count(source: Any, event: BaseEvent) -> None:
        seen.append(type(event).__name__)

    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, count)
        await crew.akickoff(INPUTS)
    return len(seen)


async def measure(repeat: int, warmup: int) -> list[dict[str, Any]]:
    """One row per size: median_us, p99_us, events_per_kickoff, baseline_median_us."""
    baseline = median_us(await time_calls(baseline_round_trip, repeat, warmup))
    rows = []
    for scenario, size in SIZES.items():
        crew = build_crew(size)

        async def kickoff(crew: Crew = crew) -> None:
            await crew.akickoff(INPUTS)

        samples = await time_calls(kickoff, repeat, warmup)
        rows.append(
            {
                "scenario": scenario,
                "median_us": median_us(samples),
                "p99_us": p99_us(samples),
                "events_per_kickoff": await count_events(crew),
                "baseline_median_us": baseline,
            }
        )
    return rows


async def run(settings: Settings) -> list[Figure]:
    """The overhead figures on the running backend."""
    rows = await measure(settings.repeat, settings.warmup)
    figures = [
        Figure("overhead", "bare anyio round trip median", rows[0]["baseline_median_us"], "us")
    ]
    for row in rows:
        size = row["scenario"]
        figures += [
            Figure("overhead", f"{size} median", row["median_us"], "us"),
            Figure("overhead", f"{size} p99", row["p99_us"], "us"),
            Figure(
                "overhead",
                f"{size} ratio to bare",
                round(row["median_us"] / row["baseline_median_us"], 2),
                "x",
            ),
            Figure("overhead", f"{size} events per kickoff", row["events_per_kickoff"], "events"),
        ]
    flow_median, flow_p99 = await measure_flow(settings.repeat, settings.warmup)
    figures += [
        Figure("overhead", "flow 3 methods median", flow_median, "us"),
        Figure("overhead", "flow 3 methods p99", flow_p99, "us"),
    ]
    return figures
