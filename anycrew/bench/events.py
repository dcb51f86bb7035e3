"""events: events per second through anycrew's fan-out, next to a bare stream.

One crew whose simulator streams ``chunks`` token chunks is run three ways:
``astream`` (``async with crew.astream(...)`` read by one consumer), ``bus_1`` and
``bus_6`` (``akickoff`` with 1 or 6 async handlers on the event bus). ``bare`` is
the same number of items through one anyio memory object stream (buffer 256),
the floor. Figures: events per second and each way's slowdown against ``bare``.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from .. import LLM, Agent, Crew, Task
from ..events import BaseEvent, event_bus
from ._common import INPUTS, Figure, Settings


def build_streaming_crew(chunks: int) -> Crew:
    """A one-task crew whose simulated reply streams *chunks* token chunks."""
    llm = LLM(model="sim", stream=True, replies=["tok " * chunks])
    agent = Agent(role="Streamer", goal="Stream", backstory="Bench", llm=llm)
    task = Task(description="Stream {topic}", expected_output="Tokens", agent=agent)
    return Crew(agents=[agent], tasks=[task])


async def bare(count: int) -> float:
    """Seconds to pass *count* items from one task to another through a memory stream."""
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
    """Frames read from ``crew.astream()`` and the seconds it took."""
    started = time.perf_counter()
    frames = 0
    async with crew.astream(INPUTS, keep_frames=False) as stream:
        async for _ in stream:
            frames += 1
    return frames, time.perf_counter() - started


async def through_bus(crew: Crew, subscribers: int) -> tuple[int, float]:
    """Events each of *subscribers* async bus handlers saw, and the kickoff's seconds."""
    counts = [0] * subscribers

    def make(position: int) -> Any:
        async def handler(source: Any, event: BaseEvent) -> None:
            counts[position] += 1

        return handler

    with event_bus.scoped_handlers():
        for position in range(subscribers):
            event_bus.register_handler(BaseEvent, make(position))
        started = time.perf_counter()
        await crew.akickoff(INPUTS)
        elapsed = time.perf_counter() - started
    if len(set(counts)) != 1:
        raise RuntimeError(f"bus handlers saw different event counts: {counts}")
    return counts[0], elapsed


async def measure(chunks: int) -> list[dict[str, Any]]:
    """One row per way (bare, astream, bus_1, bus_6): events, events_per_s, x_bare."""
    crew = build_streaming_crew(chunks)
    await through_astream(build_streaming_crew(10))  # warm-up
    frames, astream_s = await through_astream(crew)
    bus1_events, bus1_s = await through_bus(crew, 1)
    bus6_events, bus6_s = await through_bus(crew, 6)
    if not frames == bus1_events == bus6_events:
        raise RuntimeError(f"event counts differ: {frames}, {bus1_events}, {bus6_events}")
    bare_s = await bare(frames)
    return [
        {
            "way": way,
            "events": frames,
            "events_per_s": round(frames / seconds),
            "x_bare": round(seconds / bare_s, 2),
        }
        for way, seconds in (
            ("bare", bare_s),
            ("astream", astream_s),
            ("bus_1", bus1_s),
            ("bus_6", bus6_s),
        )
    ]


LABELS = {
    "bare": "bare memory stream",
    "astream": "crew.astream(), 1 reader",
    "bus_1": "bus, 1 async handler",
    "bus_6": "bus, 6 async handlers",
}


async def run(settings: Settings) -> list[Figure]:
    """The events figures on the running backend."""
    figures: list[Figure] = []
    for row in await measure(settings.chunks):
        label = LABELS[row["way"]]
        figures.append(Figure("events", f"{label} throughput", row["events_per_s"], "events/s"))
        if row["way"] != "bare":
            figures.append(Figure("events", f"{label} slowdown", row["x_bare"], "x bare"))
    figures.append(Figure("events", "events per run", row["events"], "events"))
    return figures
