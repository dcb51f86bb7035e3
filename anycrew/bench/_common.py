"""Shared pieces of the scenarios: settings, figures, timing and crew builders."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from .. import LLM, Agent, Crew, Task
from ..adapters.llm.sim import Responder
from . import progress

INPUTS = {"topic": "x"}


@dataclass(frozen=True)
class Settings:
    """What the scenarios measure; ``quick`` shrinks every size for a smoke run.

    Attributes:
        backend: the backend label ("asyncio", "uvloop" or "trio").
        quick: tiny sizes and few repeats.
        fanout_ns: crew counts for the fanout scenario.
        latency: simulated LLM latency (seconds) of fanout, chain and threads.
    """

    backend: str
    quick: bool = False
    fanout_ns: tuple[int, ...] = (10, 100, 1000, 10_000)
    latency: float = 0.05

    @property
    def repeat(self) -> int:
        """Timed kickoffs per overhead scenario."""
        return 50 if self.quick else 2000

    @property
    def warmup(self) -> int:
        """Untimed kickoffs before the timed ones."""
        return 5 if self.quick else 200

    @property
    def chunks(self) -> int:
        """Streamed token chunks in the events scenario."""
        return 200 if self.quick else 20_000

    @property
    def fanout_rounds(self) -> int:
        """Rounds of (floor, crews) per fanout N; the figures are their medians."""
        return 1 if self.quick else 5

    @property
    def cancel_crews(self) -> tuple[int, int]:
        """Crews cancelled at once: (akickoff, kickoff_async)."""
        return (20, 5) if self.quick else (1000, 50)

    @property
    def thread_crews(self) -> int:
        """Crews run concurrently in the threads scenario."""
        return 10 if self.quick else 100


@dataclass(frozen=True)
class Figure:
    """One measured number: ``value`` in ``unit`` for ``name`` within a scenario."""

    scenario: str
    name: str
    value: float
    unit: str
    backend: str = field(default="")

    def as_dict(self) -> dict[str, Any]:
        """The figure as a JSON-ready mapping."""
        return {
            "backend": self.backend,
            "scenario": self.scenario,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
        }


def log(message: str) -> None:
    """Report a step on the current progress display (stderr)."""
    progress.current().step(message)


def build_crew(
    agents: int = 1,
    tasks: int | None = None,
    *,
    latency: float = 0.0,
    responder: Responder | None = None,
) -> Crew:
    """*agents* simulator agents and *tasks* tasks (default one each), sequential.

    Tasks are given to the agents in turn.
    """
    params: dict[str, Any] = {"latency": latency}
    if responder is not None:
        params["responder"] = responder
    llm = LLM(model="sim", **params)
    crew_agents = [
        Agent(role=f"Analyst {i}", goal="Answer", backstory="Bench", llm=llm) for i in range(agents)
    ]
    crew_tasks = [
        Task(
            description=f"Describe {{topic}}, part {i}",
            expected_output="A line",
            agent=crew_agents[i % agents],
        )
        for i in range(agents if tasks is None else tasks)
    ]
    return Crew(agents=crew_agents, tasks=crew_tasks)


async def time_calls(call: Callable[[], Awaitable[Any]], repeat: int, warmup: int) -> list[int]:
    """Await *call* warmup times untimed, then *repeat* times; the durations in ns."""
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - start)
    return samples


def median_us(samples: list[int]) -> float:
    """The median of *samples* (ns) in µs, to 0.01."""
    return round(statistics.median(samples) / 1000, 2)


def p99_us(samples: list[int]) -> float:
    """The nearest-rank 99th percentile of *samples* (ns) in µs, to 0.01."""
    ordered = sorted(samples)
    rank = max(math.ceil(0.99 * len(ordered)) - 1, 0)
    return round(ordered[rank] / 1000, 2)


async def bare_sleepers(count: int, seconds: float) -> float:
    """Wall time of *count* bare anyio tasks each sleeping *seconds*: the floor."""
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(anyio.sleep, seconds)
    return time.perf_counter() - started


def peak_rss_kb() -> float | None:
    """The process's peak resident set size in KB, or None where it is unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else float(peak)  # bytes on macOS


class StallTicker:
    """A task that sleeps 1 ms in a loop and records the longest gap between wakeups."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        """Tick until cancelled."""
        while True:
            started = time.perf_counter()
            await anyio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - started)
