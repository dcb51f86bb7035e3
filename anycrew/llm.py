"""LLM: a model chosen by its model string."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any

from pydantic import BaseModel

from .llms.base_llm import BaseLLM
from .llms.registry import resolve
from .llms.types import Chunk, ChunkCallback, LLMResponse, Message

logger = logging.getLogger("anycrew")


class LLM(BaseLLM):
    """A model named ``"<provider>/<name>"``; the provider prefix picks the adapter.

    ``LLM(model="sim")`` (or ``"sim/<anything>"``) is the embedded offline simulator;
    its parameters are ``latency``, ``tokens_per_second``, ``replies`` and
    ``responder`` (see :class:`anycrew.adapters.llm.sim.SimulatorAdapter`).

    Args:
        model: the model string.
        stream: stream the reply (emitting LLMStreamChunkEvent per piece).
        temperature: sampling temperature, passed to the provider.
        stop: stop sequences, passed to the provider.
        **params: provider parameters; an adapter rejects those it does not know.

    Raises:
        ConfigurationError: for an unknown provider or a bad parameter.
    """

    def __init__(
        self,
        model: str,
        *,
        stream: bool = False,
        temperature: float | None = None,
        stop: list[str] | None = None,
        **params: Any,
    ) -> None:
        adapter_cls, name = resolve(model)
        super().__init__(model.strip(), stream=stream, temperature=temperature, stop=stop)
        self._adapter = adapter_cls(name, temperature=temperature, stop=stop, **params)

    def supports_function_calling(self) -> bool:
        return self._adapter.supports_tools

    def agenerate(
        self,
        messages: list[Message],
        *,
        on_chunk: ChunkCallback | None = None,
        tools: list[dict[str, Any]] | None = None,
        stream: bool | None = None,
        response_format: type[BaseModel] | None = None,
    ) -> Coroutine[Any, Any, LLMResponse]:
        # A plain function returning the adapter's coroutine: awaiting it is the same,
        # with one coroutine less per call. Only what is asked for is passed, so
        # adapters written before an option existed keep working until they need it.
        stream = self.stream if stream is None else stream
        on_chunk = on_chunk or _ignore_chunk
        if response_format is None:
            return self._adapter.generate(messages, stream=stream, on_chunk=on_chunk, tools=tools)
        return self._adapter.generate(
            messages, stream=stream, on_chunk=on_chunk, tools=tools, response_format=response_format
        )


async def _ignore_chunk(_: Chunk) -> None:
    return None


_default_lock = threading.Lock()
_defaults: dict[str, BaseLLM] = {}


def default_llm() -> BaseLLM:
    """The LLM of agents built without one: ``ANYCREW_MODEL`` if set, else the simulator.

    The first time the simulator stands in, anycrew logs a warning saying so.
    """
    model = os.environ.get("ANYCREW_MODEL", "").strip()
    with _default_lock:
        llm = _defaults.get(model)
        if llm is None:
            if not model:
                logger.warning(
                    "no model is configured (pass llm= to the Agent or set ANYCREW_MODEL); "
                    "using the offline simulator 'sim', which gives canned answers"
                )
            llm = _defaults[model] = LLM(model or "sim")
    return llm
