"""Chat with a Claude model through anycrew: a streamed call, then a one-agent crew.

    ANTHROPIC_API_KEY=sk-ant-... python examples/providers/anthropic_chat.py

ANTHROPIC_MODEL picks another model; ANTHROPIC_BASE_URL another endpoint. Without
ANTHROPIC_API_KEY it says how to set it and exits. It runs under trio, to show that
nothing here depends on asyncio.
"""

import os
import sys

import trio

from anycrew import LLM, Agent, Crew, Task
from anycrew.errors import LLMError
from anycrew.events import LLMStreamChunkEvent, event_bus


def print_token(source, event):
    print(event.chunk, end="", flush=True)


async def main(llm):
    with event_bus.scoped_handlers():
        event_bus.register_handler(LLMStreamChunkEvent, print_token)
        print("Streamed call: ", end="")
        await llm.acall(
            [
                {"role": "system", "content": "Answer in one sentence."},
                {"role": "user", "content": "Why do event loops need cancellation?"},
            ]
        )
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


if __name__ == "__main__":
    if not os.environ.get("ANTHROPIC_API_KEY"):
        print(
            "Set ANTHROPIC_API_KEY to run this example against Anthropic, e.g.\n"
            "    ANTHROPIC_API_KEY=sk-ant-... python examples/providers/anthropic_chat.py"
        )
        sys.exit(0)
    model = os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5")
    base_url = os.environ.get("ANTHROPIC_BASE_URL") or None
    llm = LLM(model=f"anthropic/{model}", base_url=base_url, stream=True, max_tokens=400)
    try:
        trio.run(main, llm)
    except LLMError as exc:
        sys.exit(f"The call failed: {exc}")
