"""Event throughput: frames per second through anycrew's fan-out, next to a bare stream.

One crew whose simulator streams N token chunks (``--chunks``, default 20000) is run
in four ways, one backend after another in the same process:

* ``astream``: ``async with crew.astream(...)`` read by one consumer (events become
  StreamFrames: the whole frame contract);
* ``bus_1`` / ``bus_6``: ``akickoff`` with 1 or 6 async handlers on the event bus;
* ``bare``: the same number of items through one bare anyio memory object stream
  (producer task to consumer task, buffer 256), the floor.

Figures are events per second (all events of the run, chunks included) and each
way's ratio to ``bare`` (how many times slower). Run::

    python benchmarks/streaming.py --backend all

It prints one JSON line to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from typing import Any

import anyio

from anycrew import LLM, Agent, Crew, Task
from anycrew.events import BaseEvent, event_bus


def log(message: str) -> None:
    print(f"[streaming] {message}", file=sys.stderr, flush=True)


def build_crew(chunks: int) -> Crew:
    llm = LLM(model="sim", stream=True, replies=["tok " * chunks])
    agent = Agent(role="Streamer", goal="Stream", backstory="Bench", llm=llm)
    task = Task(description="Stream {topic}", expected_output="Tokens", agent=agent)
    return Crew(agents=[agent], tasks=[task])


async def bare(count: int) -> float:
    send, receive = anyio.create_memory_object_stream[int](256)
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:

        async def produce() -> None:
            async with send:
                for item in range(count):
                    await send.send(item)

        tg.start_soon(produce)
        async with receive:
            async for _ in receive:
                pass
    return time.perf_counter() - started


async def through_astream(crew: Crew) -> tuple[int, float]:
    started = time.perf_counter()
    frames = 0
    async with crew.astream({"topic": "x"}, keep_frames=False) as stream:
        async for _ in stream:
            frames += 1
    return frames, time.perf_counter() - started


async def through_bus(crew: Crew, subscribers: int) -> tuple[int, float]:
    counts = [0] * subscribers

    def make(position: int) -> Any:
        async def handler(source: Any, event: BaseEvent) -> None:
            counts[position] += 1

        return handler

    with event_bus.scoped_handlers():
        for position in range(subscribers):
            event_bus.register_handler(BaseEvent, make(position))
        started = time.perf_counter()
        await crew.akickoff({"topic": "x"})
        elapsed = time.perf_counter() - started
    assert len(set(counts)) == 1, counts
    return counts[0], elapsed


async def measure(chunks: int) -> list[dict[str, Any]]:
    crew = build_crew(chunks)
    await through_astream(build_crew(10))  # warm-up
    frames, astream_s = await through_astream(crew)
    bus1_events, bus1_s = await through_bus(crew, 1)
    bus6_events, bus6_s = await through_bus(crew, 6)
    assert frames == bus1_events == bus6_events
    bare_s = await bare(frames)
    rows = []
    for way, seconds in (
        ("bare", bare_s),
        ("astream", astream_s),
        ("bus_1", bus1_s),
        ("bus_6", bus6_s),
    ):
        rows.append(
            {
                "way": way,
                "events": frames,
                "events_per_s": round(frames / seconds),
                "x_bare": round(seconds / bare_s, 2),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="all", choices=["asyncio", "trio", "uvloop", "all"])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    backends = ["asyncio", "uvloop", "trio"] if args.backend == "all" else [args.backend]
    results = []
    notes = []
    for backend in backends:
        if backend == "uvloop" and importlib.util.find_spec("uvloop") is None:
            notes.append("uvloop skipped: not importable")
            continue
        name, options = ("asyncio", {"use_uvloop": True}) if backend == "uvloop" else (backend, {})
        rows = anyio.run(measure, args.chunks, backend=name, backend_options=options or None)
        for row in rows:
            row["backend"] = backend
            log(f"{backend} {row['way']}: {row['events_per_s']} events/s, x{row['x_bare']} bare")
        results.extend(rows)
    document = {
        "benchmark": "streaming",
        "python": platform.python_version(),
        "machine": {"platform": platform.platform()},
        "chunks": args.chunks,
        "results": results,
        "notes": notes,
    }
    line = json.dumps(document)
    print(line)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
