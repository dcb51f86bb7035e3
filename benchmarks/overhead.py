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

The measurement lives in ``anycrew.bench.overhead`` (also run by ``anycrew bench
overhead``, which prints a table); this script keeps the one-line JSON output.
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
import os
import platform
import sys
from typing import Any

import anyio

from anycrew.bench.overhead import measure

BACKENDS = ("asyncio", "trio", "uvloop")


def log(message: str) -> None:
    print(f"[overhead] {message}", file=sys.stderr, flush=True)


async def bench_backend(backend: str, repeat: int, warmup: int) -> list[dict[str, Any]]:
    """The rows of ``anycrew.bench.overhead.measure``, tagged with *backend*."""
    results = []
    for row in await measure(repeat, warmup):
        result = {"backend": backend, **row}
        log(
            f"{backend} {result['scenario']}: median {result['median_us']} us, "
            f"p99 {result['p99_us']} us, {result['events_per_kickoff']} events/kickoff, "
            f"x{result['median_us'] / result['baseline_median_us']:.1f} baseline"
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
