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
from _chat import run

from anycrew import LLM

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
    run(anyio.run, llm)
