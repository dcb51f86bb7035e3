"""Framework overhead of ``await crew.akickoff()`` on the offline simulator.

What it measures, per event-loop backend (asyncio, trio, asyncio+uvloop), all in
one process, one backend after another (``anyio.run``):

* ``median_us`` / ``p99_us``: wall time of one ``await crew.akickoff({"topic": "x"})``
  (``time.perf_counter_ns``) with ``LLM(model="sim")`` (latency 0, canned reply),
  so the time is anycrew's own work: planning, the run scope, the event pipe and
  the agent/task/LLM plumbing. Scenarios: ``1x1`` (1 agent, 1 task) and ``3x3``
  (3 agents, 3 tasks, sequential process). The crew is built once per scenario.
* ``events_per_kickoff``: the events one kickoff emits, counted by a sync handler
  registered inside ``event_bus.scoped_handlers()`` in a separate kickoff, never
  during the timed loop (which runs with no handler registered).
* ``baseline_median_us``: the median of a bare anyio round trip on the same
  backend, ``async with anyio.create_task_group() as tg: tg.start_soon(anyio.sleep, 0)``,
  so that ``median_us / baseline_median_us`` is a machine-independent ratio.

Run it from the repository root::

    python benchmarks/overhead.py --backend all
    python benchmarks/overhead.py --backend trio --repeat 5000 --json overhead.json

It prints exactly one JSON line to stdout; progress and notes go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from anycrew import LLM, Agent, Crew, Task
from anycrew.events import BaseEvent, event_bus

BACKENDS = ("asyncio", "trio", "uvloop")
SCENARIOS = {"1x1": 1, "3x3": 3}
INPUTS = {"topic": "x"}


def log(message: str) -> None:
    print(f"[overhead] {message}", file=sys.stderr, flush=True)


def build_crew(size: int) -> Crew:
    """*size* agents and *size* tasks (one per agent), sequential, on the simulator."""
    llm = LLM(model="sim")
    agents = [
        Agent(role=f"Analyst {i}", goal="Answer", backstory="Bench", llm=llm) for i in range(size)
    ]
    tasks = [
        Task(description="Describe {topic}", expected_output="A line", agent=agent)
        for agent in agents
    ]
    return Crew(agents=agents, tasks=tasks)


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
    return round(statistics.median(samples) / 1000, 2)


def p99_us(samples: list[int]) -> float:
    ordered = sorted(samples)
    rank = max(math.ceil(0.99 * len(ordered)) - 1, 0)  # nearest-rank percentile
    return round(ordered[rank] / 1000, 2)


async def baseline_round_trip() -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.sleep, 0)


async def count_events(crew: Crew) -> int:
    """The number of events one kickoff of *crew* emits (a separate, untimed kickoff)."""
    seen: list[str] = []

    def count(source: Any, event: BaseEvent) -> None:
        seen.append(type(event).__name__)

    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, count)
        await crew.akickoff(INPUTS)
    return len(seen)


async def bench_backend(backend: str, repeat: int, warmup: int) -> list[dict[str, Any]]:
    baseline = median_us(await time_calls(baseline_round_trip, repeat, warmup))
    log(f"{backend}: bare anyio baseline median {baseline} us")
    results = []
    for scenario, size in SCENARIOS.items():
        crew = build_crew(size)

        async def kickoff(crew: Crew = crew) -> None:
            await crew.akickoff(INPUTS)

        samples = await time_calls(kickoff, repeat, warmup)
        result = {
            "backend": backend,
            "scenario": scenario,
            "median_us": median_us(samples),
            "p99_us": p99_us(samples),
            "events_per_kickoff": await count_events(crew),
            "baseline_median_us": baseline,
        }
        log(
            f"{backend} {scenario}: median {result['median_us']} us, p99 {result['p99_us']} us, "
            f"{result['events_per_kickoff']} events/kickoff, "
            f"x{result['median_us'] / baseline:.1f} baseline"
        )
        results.append(result)
    return results


def run_backend(backend: str, repeat: int, warmup: int) -> list[dict[str, Any]]:
    if backend == "uvloop":
        return anyio.run(
            bench_backend,
            backend,
            repeat,
            warmup,
            backend="asyncio",
            backend_options={"use_uvloop": True},
        )
    return anyio.run(bench_backend, backend, repeat, warmup, backend=backend)


def version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=(*BACKENDS, "all"), default="all")
    parser.add_argument("--repeat", type=int, default=2000, help="timed kickoffs per scenario")
    parser.add_argument("--warmup", type=int, default=200, help="untimed kickoffs first")
    parser.add_argument("--json", metavar="PATH", help="also write the JSON document here")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be >= 1 and --warmup >= 0")

    notes: list[str] = []
    results: list[dict[str, Any]] = []
    for backend in BACKENDS if args.backend == "all" else (args.backend,):
        if backend == "uvloop" and importlib.util.find_spec("uvloop") is None:
            notes.append("uvloop skipped: not importable")
            log(notes[-1])
            continue
        log(f"{backend}: {args.warmup} warmup + {args.repeat} timed kickoffs per scenario")
        results.extend(run_backend(backend, args.repeat, args.warmup))

    document = {
        "benchmark": "overhead",
        "python": platform.python_version(),
        "anyio": version("anyio"),
        "trio": version("trio"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "repeat": args.repeat,
        "warmup": args.warmup,
        "results": results,
        "notes": notes,
    }
    line = json.dumps(document)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            file.write(line + "\n")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
