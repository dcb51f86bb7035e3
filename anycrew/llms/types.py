"""Values that cross the LLM seam."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: A chat message: ``{"role": "system" | "user" | "assistant", "content": str, ...}``.
Message = dict[str, Any]

#: Called with each streamed piece of text as it arrives.
ChunkCallback = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class LLMResponse:
    """One reply of a model.

    Attributes:
        text: the reply's text.
        prompt_tokens: tokens the prompt took, as the provider counted them.
        completion_tokens: tokens of the reply.
        cached_prompt_tokens: prompt tokens served from the provider's cache.
        raw: the provider's own response object, if any.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
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
