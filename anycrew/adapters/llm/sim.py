"""The simulator: a deterministic, scriptable, offline LLM.

``LLM(model="sim", ...)`` answers without a network, which makes it the default for
demos, tests and benchmarks. Its waits are ``anyio.sleep``, so cancelling a run
stops a simulated call at once.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any

import anyio
from pydantic import BaseModel

from ...errors import ConfigurationError
from ...llms.adapter import LLMAdapter
from ...llms.types import Chunk, ChunkCallback, LLMResponse, Message, ToolCall

Responder = Callable[[list[Message]], str | Awaitable[str]]

_TOKEN = re.compile(r"\s*\S+")
_TASK_PREFIX = "Current Task: "
_TASK_LINE = re.compile(rf"^{_TASK_PREFIX}(.*)$", re.MULTILINE)


def _check_script(
    script: Sequence[str | Sequence[dict[str, Any]]] | None,
) -> list[str | list[dict[str, str]]] | None:
    """Validate a ``tool_calls`` script; arguments become JSON text."""
    if script is None:
        return None
    if isinstance(script, str) or not isinstance(script, Sequence):
        raise ConfigurationError("sim tool_calls must be a list of steps (texts or lists of calls)")
    steps: list[str | list[dict[str, str]]] = []
    for position, step in enumerate(script):
        if isinstance(step, str):
            steps.append(step)
            continue
        calls = []
        for call in step:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise ConfigurationError(
                    f"sim tool_calls step {position}: each call is a dict with a 'name' "
                    f"and 'arguments', got {call!r}"
                )
            arguments = call.get("arguments", {})
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            calls.append({"name": call["name"], "arguments": text})
        if not calls:
            raise ConfigurationError(f"sim tool_calls step {position} has no calls")
        steps.append(calls)
    return steps


def _count_tokens(text: str) -> int:
    return len(text.split())


_count_remembered = lru_cache(maxsize=128)(_count_tokens)


def _count_prompt_tokens(text: str) -> int:
    # Remembered by text: an agent's system message is the same in every kickoff,
    # and splitting it was most of the cost of a simulated call. Only short texts
    # are kept, so the cache stays small (128 x 4,000 characters at most).
    return _count_remembered(text) if len(text) <= 4000 else len(text.split())


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """*text* up to the first of the *stop* sequences in it (all of it if none is)."""
    found = [at for at in map(text.find, stop) if at >= 0]
    return text[: min(found)] if found else text


def default_reply(messages: Sequence[Message]) -> str:
    """The reply the simulator gives when it has no script.

    In an agent's conversation it gives a final answer naming the task (found in
    any user turn, so it still answers after tool rounds); otherwise it names the
    last user message.
    """
    if messages:
        # An agent's first step: its task is the first line of the last message.
        content = messages[-1].get("content")
        if (
            messages[-1].get("role") == "user"
            and isinstance(content, str)
            and content.startswith(_TASK_PREFIX)
        ):
            end = content.find("\n")
            task = content[len(_TASK_PREFIX) : end if end >= 0 else None]
            return f"Thought: I have what I need.\nFinal Answer: Simulated answer to: {_line(task)}"
    last_user = ""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = str(message.get("content") or "")
        last_user = last_user or content
        match = _TASK_LINE.search(content)
        if match:
            answer = f"Simulated answer to: {_line(match.group(1))}"
            return f"Thought: I have what I need.\nFinal Answer: {answer}"
    return f"Simulated reply to: {_line(last_user)}"


def _line(text: str) -> str:
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= 120 else line[:117] + "..."


class SimulatorAdapter(LLMAdapter):
    """The simulator's adapter.

    Args:
        latency: seconds before the first token (default 0).
        tokens_per_second: pace of the reply after the first token; ``None`` (the
            default) delivers it all at once.
        replies: replies used in turn, cycling; shared by every run using this LLM.
        responder: a sync or async callable taking the message list and returning
            the reply text; it takes precedence over *replies* and *tool_calls*.
        tool_calls: a script for agents with tools: a list of steps, each either a
            final text or a list of tool calls ``{"name": ..., "arguments": {...}}``.
            The step is chosen by how many assistant turns the conversation already
            has, so concurrent runs each follow the script from the start. Past its
            end the simulator gives its default answer.
        native_tools: answer tool calls natively (as OpenAI-style tool calls; the
            default) or, when False, in the ReAct text protocol like a model without
            function calling.

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
        tool_calls: Sequence[str | Sequence[dict[str, Any]]] | None = None,
        native_tools: bool = True,
        temperature: float | None = None,
        stop: list[str] | None = None,
        **unknown: Any,
    ) -> None:
        super().__init__(model_name)
        if unknown:
            raise ConfigurationError(
                f"the simulator does not take {', '.join(sorted(unknown))}; its parameters "
                "are latency, tokens_per_second, replies, responder, tool_calls, "
                "native_tools and stream"
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
        self.tool_calls = _check_script(tool_calls)
        self.supports_tools = bool(native_tools)
        self.latency = float(latency)
        self.tokens_per_second = tokens_per_second
        self.replies = replies
        self.responder = responder
        self.stop = stop
        self._lock = threading.Lock()
        self._next_reply = 0

    def _reply(
        self, messages: list[Message], tools: list[dict[str, Any]] | None
    ) -> str | list[ToolCall] | Awaitable[Any]:
        # Synchronous, so the common replies cost no coroutine; only an async
        # responder's answer comes back as something to await.
        if self.responder is not None:
            reply = self.responder(messages)
            return reply if inspect.isawaitable(reply) else str(reply)
        if self.tool_calls is not None:
            step = sum(1 for message in messages if message.get("role") == "assistant")
            if step < len(self.tool_calls):
                scripted = self.tool_calls[step]
                if isinstance(scripted, str):
                    return scripted
                calls = [
                    ToolCall(id=f"call_{step}_{i}", name=c["name"], arguments=c["arguments"])
                    for i, c in enumerate(scripted)
                ]
                if tools and self.supports_tools:
                    return calls
                if not self.supports_tools:
                    first = calls[0]
                    return (
                        "Thought: I should use a tool.\n"
                        f"Action: {first.name}\nAction Input: {first.arguments}"
                    )
            return default_reply(messages)
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
        response_format: type[BaseModel] | None = None,
    ) -> LLMResponse:
        # response_format is not enforced: the agent validates the text, so scripted
        # replies can exercise both the good and the bad answers.
        reply = self._reply(messages, tools)
        if not isinstance(reply, str | list):
            reply = str(await reply)
        if isinstance(reply, list):
            return await self._tool_call_reply(reply, stream, on_chunk)
        text = reply
        if self.stop:
            text = _cut_at_stop(text, self.stop)
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
            pieces = _count_tokens(text)  # the number of _TOKEN matches
            if self.tokens_per_second and pieces > 1:
                await anyio.sleep((pieces - 1) / self.tokens_per_second)
        prompt_tokens = 0
        for message in messages:
            prompt_tokens += _count_prompt_tokens(str(message.get("content", "")))
        return LLMResponse(text, prompt_tokens, pieces)

    async def _tool_call_reply(
        self, calls: list[ToolCall], stream: bool, on_chunk: ChunkCallback
    ) -> LLMResponse:
        if self.latency:
            await anyio.sleep(self.latency)
        if stream:
            for index, call in enumerate(calls):
                await on_chunk(
                    Chunk(
                        call.arguments,
                        kind="tool_call",
                        tool_call={
                            "index": index,
                            "id": call.id,
                            "name": call.name,
                            "arguments": call.arguments,
                        },
                    )
                )
        return LLMResponse(
            text="",
            completion_tokens=sum(_count_tokens(call.arguments) + 1 for call in calls),
            tool_calls=calls,
            finish_reason="tool_calls",
        )
