"""What the provider examples share: a streamed call, then a one-agent crew."""

import sys

from anycrew import Agent, Crew, Task
from anycrew.errors import LLMError
from anycrew.events import LLMStreamChunkEvent, event_bus


def print_token(source, event):
    print(event.chunk, end="", flush=True)


async def chat(llm, prompt="In one sentence: why do event loops need cancellation?"):
    with event_bus.scoped_handlers():
        event_bus.register_handler(LLMStreamChunkEvent, print_token)
        print("Streamed call: ", end="")
        await llm.acall(prompt)
        print()

    writer = Agent(
        role="Technical writer",
        goal="Explain {topic} plainly",
        backstory="You write short, exact explanations.",
        llm=llm,
    )
    task = Task(
        description="Explain {topic} in two sentences.",
        expected_output="Two sentences.",
        agent=writer,
    )
    result = await Crew(agents=[writer], tasks=[task]).akickoff(
        inputs={"topic": "structured concurrency"}
    )
    print("Crew result:", result.raw)


def run(runner, llm, *args):
    """Run ``chat(llm, *args)`` with *runner* (anyio.run, trio.run, ...); exit on LLM errors."""
    try:
        runner(chat, llm, *args)
    except LLMError as exc:
        sys.exit(f"The call failed: {exc}")
