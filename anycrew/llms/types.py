"""Values that cross the LLM seam."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

#: A chat message: ``{"role": "system" | "user" | "assistant", "content": str, ...}``.
Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One streamed piece of a reply.

    Attributes:
        text: the piece of text (for ``tool_call`` chunks, a piece of the arguments).
        kind: ``"text"`` for the answer, ``"thinking"`` for reasoning the provider
            streams separately, ``"tool_call"`` for a tool call being streamed.
        tool_call: for ``tool_call`` chunks: ``{"index", "id", "name", "arguments"}``
            as far as this piece tells them.
    """

    text: str
    kind: Literal["text", "thinking", "tool_call"] = "text"
    tool_call: dict[str, Any] | None = None


#: Called with each streamed piece as it arrives.
ChunkCallback = Callable[[Chunk], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to call a tool.

    Attributes:
        id: the provider's id for the call (echoed back with the result).
        name: the tool's name.
        arguments: the arguments as the JSON text the model wrote (may be invalid).
    """

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class LLMResponse:
    """One reply of a model.

    Attributes:
        text: the reply's text.
        prompt_tokens: tokens the prompt took, as the provider counted them.
        completion_tokens: tokens of the reply.
        cached_prompt_tokens: prompt tokens served from the provider's cache.
        tool_calls: the tools the model asked to call, in order.
        thinking: reasoning text the provider returned apart from the answer.
        finish_reason: why the model stopped, as the provider said it.
        raw: the provider's own response object, if any.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)
    thinking: str = ""
    finish_reason: str | None = None
    raw: Any = field(default=None, repr=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def normalize_messages(messages: str | list[Message]) -> list[Message]:
    """Accept a bare prompt string or a message list; return a fresh message list.

    Raises:
        TypeError: if a message is not a dict with a "role" and a "content".
    """
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    normalized: list[Message] = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise TypeError(
                f"message {position} must be a dict with 'role' and 'content', got {message!r}"
            )
        normalized.append(dict(message))
    return normalized
