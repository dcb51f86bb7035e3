"""The simulator: a deterministic, scriptable, offline LLM.

``LLM(model="sim", ...)`` answers without a network, which makes it the default for
demos, tests and benchmarks. Its waits are ``anyio.sleep``, so cancelling a run
stops a simulated call at once.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from ...errors import ConfigurationError
from ...llms.adapter import LLMAdapter
from ...llms.types import Chunk, ChunkCallback, LLMResponse, Message

Responder = Callable[[list[Message]], str | Awaitable[str]]

_TOKEN = re.compile(r"\s*\S+")
_TASK_LINE = re.compile(r"^Current Task: (.*)$", re.MULTILINE)


def _count_tokens(text: str) -> int:
    return len(text.split())


def default_reply(messages: Sequence[Message]) -> str:
    """The reply the simulator gives when it has no script: it names the task."""
    prompt = ""
    for message in reversed(messages):
        if message.get("role") == "user":
            prompt = str(message.get("content", ""))
            break
    match = _TASK_LINE.search(prompt)
    subject = (match.group(1) if match else prompt).strip().splitlines()
    line = subject[0] if subject else ""
    if len(line) > 120:
        line = line[:117] + "..."
    if match:
        return f"Thought: I have what I need.\nFinal Answer: Simulated answer to: {line}"
    return f"Simulated reply to: {line}"


class SimulatorAdapter(LLMAdapter):
    """The simulator's adapter.

    Args:
        latency: seconds before the first token (default 0).
        tokens_per_second: pace of the reply after the first token; ``None`` (the
            default) delivers it all at once.
        replies: replies used in turn, cycling; shared by every run using this LLM.
        responder: a sync or async callable taking the message list and returning
            the reply text; it takes precedence over *replies*.

    Raises:
        ConfigurationError: for a negative latency, a non-positive rate, an empty or
            non-string reply list, a responder that is not callable, or a parameter
            the simulator does not know.
    """

    def __init__(
        self,
        model_name: str,
        *,
        latency: float = 0.0,
        tokens_per_second: float | None = None,
        replies: Sequence[str] | None = None,
        responder: Responder | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
        **unknown: Any,
    ) -> None:
        super().__init__(model_name)
        if unknown:
            raise ConfigurationError(
                f"the simulator does not take {', '.join(sorted(unknown))}; its parameters "
                "are latency, tokens_per_second, replies, responder and stream"
            )
        if not isinstance(latency, int | float) or latency < 0:
            raise ConfigurationError(f"sim latency must be a number >= 0 seconds, got {latency!r}")
        if tokens_per_second is not None and (
            not isinstance(tokens_per_second, int | float) or tokens_per_second <= 0
        ):
            raise ConfigurationError(
                f"sim tokens_per_second must be > 0 or None, got {tokens_per_second!r}"
            )
        if replies is not None:
            if (
                isinstance(replies, str)
                or not replies
                or not all(isinstance(r, str) for r in replies)
            ):
                raise ConfigurationError(
                    "sim replies must be a non-empty list of strings, "
                    "e.g. replies=['Final Answer: 42']"
                )
            replies = list(replies)
        if responder is not None and not callable(responder):
            raise ConfigurationError(f"sim responder must be callable, got {responder!r}")
        self.latency = float(latency)
        self.tokens_per_second = tokens_per_second
        self.replies = replies
        self.responder = responder
        self.stop = stop
        self._lock = threading.Lock()
        self._next_reply = 0

    async def _reply(self, messages: list[Message]) -> str:
        if self.responder is not None:
            reply = self.responder(messages)
            if inspect.isawaitable(reply):
                reply = await reply
            return str(reply)
        if self.replies is not None:
            with self._lock:
                index = self._next_reply
                self._next_reply += 1
            return self.replies[index % len(self.replies)]
        return default_reply(messages)

    async def generate(
        self,
        messages: list[Message],
        *,
        stream: bool,
        on_chunk: ChunkCallback,
        tools: list[dict[str, Any]] | None = None,
    ) -> LLMResponse:
        text = await self._reply(messages)
        if self.stop:
            cut = min((i for s in self.stop if (i := text.find(s)) >= 0), default=-1)
            if cut >= 0:
                text = text[:cut]
        if self.latency:
            await anyio.sleep(self.latency)
        # Pieces are produced lazily: a long reply streams in constant extra memory.
        pieces = 0
        if stream:
            delay = 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0
            for match in _TOKEN.finditer(text):
                if delay and pieces:
                    await anyio.sleep(delay)
                pieces += 1
                await on_chunk(Chunk(match.group()))
        else:
            pieces = sum(1 for _ in _TOKEN.finditer(text))
            if self.tokens_per_second and pieces > 1:
                await anyio.sleep((pieces - 1) / self.tokens_per_second)
        return LLMResponse(
            text=text,
            prompt_tokens=sum(_count_tokens(str(m.get("content", ""))) for m in messages),
            completion_tokens=pieces,
        )
