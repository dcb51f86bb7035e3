"""Chat with an OpenAI model through anycrew: a streamed call, then a one-agent crew.

    OPENAI_API_KEY=sk-... python examples/providers/openai_chat.py

Any OpenAI-compatible server (vLLM, llama.cpp, a proxy) works the same way:

    OPENAI_BASE_URL=http://localhost:8000/v1 OPENAI_API_KEY=... \\
    OPENAI_MODEL=<model> python examples/providers/openai_chat.py

Without OPENAI_API_KEY it says how to set it and exits.
"""

import os
import sys

import anyio

from anycrew import LLM, Agent, Crew, Task
from anycrew.errors import LLMError
from anycrew.events import LLMStreamChunkEvent, event_bus


def print_token(source, event):
    print(event.chunk, end="", flush=True)


async def main(llm):
    with event_bus.scoped_handlers():
        event_bus.register_handler(LLMStreamChunkEvent, print_token)
        print("Streamed call: ", end="")
        await llm.acall("In one sentence: why do event loops need cancellation?")
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
    if not os.environ.get("OPENAI_API_KEY"):
        print(
            "Set OPENAI_API_KEY to run this example against OpenAI, e.g.\n"
            "    OPENAI_API_KEY=sk-... python examples/providers/openai_chat.py\n"
            "For another OpenAI-compatible server also set OPENAI_BASE_URL "
            "(and OPENAI_MODEL)."
        )
        sys.exit(0)
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    base_url = os.environ.get("OPENAI_BASE_URL") or None
    llm = LLM(model=f"openai/{model}", base_url=base_url, stream=True, max_tokens=300)
    try:
        anyio.run(main, llm)
    except LLMError as exc:
        sys.exit(f"The call failed: {exc}")
