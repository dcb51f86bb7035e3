"""Chat with a local Ollama model through anycrew: a streamed call, then a crew.

Start Ollama, pull a model, then:

    OLLAMA_BASE_URL=http://localhost:11434/v1 python examples/providers/ollama_chat.py

OLLAMA_MODEL picks the model (default llama3.2). No key is needed. Without
OLLAMA_BASE_URL it says how to set it and exits.
"""

import os
import sys

import anyio
from _chat import run

from anycrew import LLM

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
    run(anyio.run, llm)
