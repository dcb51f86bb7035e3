"""Chat with a local Ollama model through anycrew: a streamed call, then a crew.

Start Ollama, pull a model, then:

    OLLAMA_BASE_URL=http://localhost:11434/v1 python examples/providers/ollama_chat.py

OLLAMA_MODEL picks the model (default llama3.2). No key is needed. Without
OLLAMA_BASE_URL it says how to set it and exits.
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
    base_url = os.environ.get("OLLAMA_BASE_URL")
    if not base_url:
        print(
            "Set OLLAMA_BASE_URL to run this example against a local Ollama, e.g.\n"
            "    ollama pull llama3.2\n"
            "    OLLAMA_BASE_URL=http://localhost:11434/v1 "
            "python examples/providers/ollama_chat.py"
        )
        sys.exit(0)
    model = os.environ.get("OLLAMA_MODEL", "llama3.2")
    llm = LLM(model=f"ollama/{model}", base_url=base_url, stream=True, timeout=300)
    try:
        anyio.run(main, llm)
    except LLMError as exc:
        sys.exit(f"The call failed: {exc}")
