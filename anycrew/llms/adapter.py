"""LLMAdapter: the base every provider adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel

from .types import ChunkCallback, LLMResponse, Message


class LLMAdapter(ABC):
    """Speaks one provider's wire format.

    An adapter is created by :class:`anycrew.LLM` from the model string (through
    the registry in :mod:`anycrew.llms.registry`) with the name after the prefix and
    the LLM's parameters. It must be safe to use from many concurrent runs, and its
    waits must be cancellable (anyio primitives), so cancelling a run stops a call.
    """

    #: Whether the model takes tools natively (function calling). Agents with tools
    #: use the ReAct text protocol with models that do not.
    supports_tools: bool = False

    def __init__(self, model_name: str, **params: Any) -> None:
        self.model_name = model_name

    @abstractmethod
    async def generate(
        self,
        messages: list[Message],
        *,
        stream: bool,
        on_chunk: ChunkCallback,
        tools: list[dict[str, Any]] | None = None,
        response_format: type[BaseModel] | None = None,
    ) -> LLMResponse:
        """Return the model's reply to *messages*.

        Args:
            messages: the conversation, OpenAI-style dicts (``role``, ``content``,
                and for tool turns ``tool_calls`` / ``tool_call_id``).
            stream: stream the reply, awaiting ``on_chunk(chunk)`` for each piece
                as it arrives (the returned response still holds the whole reply).
            on_chunk: receives the streamed :class:`Chunk` objects.
            tools: tools the model may call, as OpenAI function schemas
                (``{"type": "function", "function": {"name", "description",
                "parameters"}}``); adapters translate them to their wire format.
            response_format: a pydantic model the reply must be a JSON object of.
                Adapters whose provider can enforce it do so (a JSON schema response
                format, a forced tool); others leave the reply as the model gives
                it, and the caller validates the text.
        """
