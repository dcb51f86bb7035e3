"""Flow overhead: median microseconds per kickoff of a 3-method flow, per backend.

Each backend (asyncio, asyncio+uvloop, trio) runs in this process, one after
another: ``akickoff`` of a flow whose three methods (a start and two chained
listeners, all async and doing no work) is timed ``--repeat`` times, once plain and
once with ``@persist`` on a temporary SQLite file (three saves per kickoff).

    python benchmarks/flow.py --backend all

It prints one JSON line to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from anycrew.bench.overhead import three_method_flow
from anycrew.flow import Flow, persist
from anycrew.flow.persistence import SQLiteFlowPersistence

#: The flow `anycrew bench overhead` times too: three chained async methods.
Three = three_method_flow()


def persisted(store: SQLiteFlowPersistence) -> type[Flow[Any]]:
    @persist(store)
    class Saved(Three):
        pass

    return Saved


async def median_us(flow_cls: type[Flow[Any]], repeat: int, warmup: int) -> tuple[float, float]:
    samples = []
    for position in range(warmup + repeat):
        flow = flow_cls()
        started = time.perf_counter_ns()
        assert await flow.akickoff() == 3
        if position >= warmup:
            samples.append(time.perf_counter_ns() - started)
    samples.sort()
    return round(statistics.median(samples) / 1000, 1), round(
        samples[int(len(samples) * 0.99) - 1] / 1000, 1
    )


async def measure(repeat: int, warmup: int, folder: Path) -> list[dict[str, Any]]:
    store = SQLiteFlowPersistence(folder / "bench.db")
    rows = []
    for name, flow_cls in (("plain", Three), ("persist", persisted(store))):
        median, p99 = await median_us(flow_cls, repeat, warmup)
        rows.append({"flow": name, "median_us": median, "p99_us": p99})
    await store.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="all", choices=["asyncio", "trio", "uvloop", "all"])
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    backends = ["asyncio", "uvloop", "trio"] if args.backend == "all" else [args.backend]
    results, notes = [], []
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            if backend == "uvloop" and importlib.util.find_spec("uvloop") is None:
                notes.append("uvloop skipped: not importable")
                continue
            name, options = (
                ("asyncio", {"use_uvloop": True}) if backend == "uvloop" else (backend, {})
            )
            rows = anyio.run(
                measure,
                args.repeat,
                args.warmup,
                Path(folder),
                backend=name,
                backend_options=options or None,
            )
            for row in rows:
                row["backend"] = backend
                print(
                    f"[flow] {backend} {row['flow']}: median {row['median_us']} us", file=sys.stderr
                )
            results.extend(rows)
    print(
        json.dumps(
            {
                "benchmark": "flow",
                "python": platform.python_version(),
                "repeat": args.repeat,
                "results": results,
                "notes": notes,
            }
        )
    )


if __name__ == "__main__":
    main()
