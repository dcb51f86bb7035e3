"""The demo behind `make demo`: a three-task crew on the offline simulator.

It shows the three entry points giving the same answer, the event stream, and a
cancellation that stops a slow run at once. Run it with `make demo` or
`python examples/demo.py`.
"""

from __future__ import annotations

import time

import anyio

from anycrew import LLM, Agent, Crew, Task
from anycrew.events import BaseEvent, event_bus


def build_crew(latency: float = 0.05) -> Crew:
    llm = LLM(model="sim", latency=latency, stream=True, tokens_per_second=400)
    researcher = Agent(
        role="Researcher", goal="Find the facts about {topic}", backstory="Thorough.", llm=llm
    )
    writer = Agent(role="Writer", goal="Explain {topic} simply", backstory="Clear.", llm=llm)
    tasks = [
        Task(
            description="List three facts about {topic}",
            expected_output="3 bullets",
            agent=researcher,
            name="facts",
        ),
        Task(
            description="Check the facts about {topic}",
            expected_output="A verdict",
            agent=researcher,
            name="check",
        ),
        Task(
            description="Write a paragraph on {topic}",
            expected_output="One paragraph",
            agent=writer,
            name="write",
        ),
    ]
    return Crew(agents=[researcher, writer], tasks=tasks, name="demo")


def on_event(source: object, event: BaseEvent) -> None:
    if event.type == "llm_stream_chunk":
        return
    indent = "  " * {"crew": 0, "task": 1, "agent": 2, "llm": 3}.get(event.type.split("_")[0], 0)
    label = event.task_name or ""
    print(f"  {event.emission_sequence:>3} {indent}{event.type} {label}")


async def main() -> None:
    crew = build_crew()
    print("== akickoff, with every event but the token chunks ==")
    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, on_event)
        result = await crew.akickoff({"topic": "structured concurrency"})
    print(f"result: {result.raw}\n")

    print("== the same crew through kickoff_async and akickoff_for_each ==")
    threaded = await crew.kickoff_async({"topic": "structured concurrency"})
    print("kickoff_async gives the same answer:", threaded.raw == result.raw)
    many = await crew.akickoff_for_each([{"topic": t} for t in ("trio", "asyncio", "anyio")])
    for output in many:
        print(" ", output.raw)

    print("\n== cancelling a slow run after 0.2 s ==")
    slow = build_crew(latency=2.0)
    seen: list[str] = []
    started = time.monotonic()
    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, lambda source, event: seen.append(event.type))
        with anyio.move_on_after(0.2):
            await slow.akickoff({"topic": "patience"})
    print(f"stopped {time.monotonic() - started:.3f} s after the start")
    print("last events:", ", ".join(seen[-3:]))
    print("LLM calls started:", seen.count("llm_call_started"))


if __name__ == "__main__":
    anyio.run(main)
