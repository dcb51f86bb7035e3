"""Chat with a Claude model through anycrew: a streamed call, then a one-agent crew.

    ANTHROPIC_API_KEY=sk-ant-... python examples/providers/anthropic_chat.py

ANTHROPIC_MODEL picks another model; ANTHROPIC_BASE_URL another endpoint. Without
ANTHROPIC_API_KEY it says how to set it and exits. It runs under trio, to show that
nothing here depends on asyncio.
"""

import os
import sys

import trio
from _chat import run

from anycrew import LLM

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
    run(
        trio.run,
        llm,
        [
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": "Why do event loops need cancellation?"},
        ],
    )
