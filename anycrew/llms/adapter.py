"""LLMAdapter: the base every provider adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .types import ChunkCallback, LLMResponse, Message


class LLMAdapter(ABC):
    """Speaks one provider's wire format.

    An adapter is created by :class:`anycrew.LLM` from the model string (through
    the registry in :mod:`anycrew.llms.registry`) with the name after the prefix and
    the LLM's parameters. It must be safe to use from many concurrent runs, and its
    waits must be cancellable (anyio primitives), so cancelling a run stops a call.
    """

    def __init__(self, model_name: str, **params: Any) -> None:
        self.model_name = model_name

    @abstractmethod
    async def generate(
        self,
        messages: list[Message],
        *,
        stream: bool,
        on_chunk: ChunkCallback,
    ) -> LLMResponse:
        """Return the model's reply to *messages*.

        When *stream* is true, await ``on_chunk(text)`` for each piece of the reply
        as it arrives (the returned text is the whole reply).
        """
