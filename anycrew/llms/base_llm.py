"""BaseLLM: what the engine calls, and what a custom LLM subclasses."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from pydantic import BaseModel

from .. import runtime
from ..runtime import OnOpen
from .types import ChunkCallback, LLMResponse, Message, normalize_messages

if TYPE_CHECKING:
    from ..runtime._streams import Start
    from ..streaming.sessions import AsyncStreamSession, StreamSession


class BaseLLM:
    """Base of every LLM.

    The engine calls :meth:`agenerate`. A custom LLM (as in CrewAI) can instead
    override ``call(messages, ...) -> str`` (run in a worker thread, so it may block)
    or ``async acall(messages, ...) -> str``; the default :meth:`agenerate` uses
    whichever it overrides.

    Calling :meth:`call` or :meth:`acall` directly emits the LLM call events too:
    into the current run if there is one, else into a run of their own.
    """

    def __init__(
        self,
        model: str,
        *,
        stream: bool = False,
        temperature: float | None = None,
        stop: list[str] | None = None,
    ) -> None:
        self.model = model
        self.stream = stream
        self.temperature = temperature
        self.stop = stop

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, stream={self.stream})"

    def supports_function_calling(self) -> bool:
        """Whether the model takes tools natively; agents use a text protocol if not."""
        return False

    async def agenerate(
        self,
        messages: list[Message],
        *,
        on_chunk: ChunkCallback | None = None,
        tools: list[dict[str, Any]] | None = None,
        stream: bool | None = None,
        response_format: type[BaseModel] | None = None,
    ) -> LLMResponse:
        """Return the model's reply to *messages* (the engine's entry point).

        *tools* are OpenAI-style function schemas the model may call; *on_chunk*
        receives streamed pieces when the LLM streams; *stream* overrides
        ``self.stream`` for this call (custom LLMs that only override ``call`` or
        ``acall`` do not stream); *response_format* asks for a JSON object of that
        model where the provider can enforce it.
        """
        cls = type(self)
        if cls.acall is not BaseLLM.acall:
            text = await self.acall(messages)
        elif cls.call is not BaseLLM.call:
            text = await anyio.to_thread.run_sync(
                partial(self.call, messages), limiter=runtime.thread_limiter()
            )
        else:
            raise NotImplementedError(
                f"{cls.__name__} must override agenerate(), acall() or call() to talk to its model"
            )
        return LLMResponse(text=str(text))

    async def acall(
        self,
        messages: str | list[Message],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
    ) -> str:
        """Send *messages* (a prompt string or a message list) and return the reply text."""
        from ._invoke import invoke_llm

        response = await invoke_llm(self, normalize_messages(messages), source=from_agent or self)
        return response.text

    def call(
        self,
        messages: str | list[Message],
        tools: list[dict[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        available_functions: dict[str, Any] | None = None,
        from_task: Any = None,
        from_agent: Any = None,
    ) -> str:
        """Synchronous :meth:`acall`, driven on a private event loop."""
        return runtime.run_blocking(self.acall, messages, entry_name="call", async_name="acall")

    def _stream_start(self, messages: str | list[Message]) -> Start:
        from ..events.bus import event_bus
        from ._invoke import invoke_llm

        normalized = normalize_messages(messages)
        router = event_bus.active_registry()

        async def start(on_open: OnOpen) -> str:
            response = await invoke_llm(
                self, normalized, source=self, stream=True, router=router, on_open=on_open
            )
            return response.text

        return start

    def stream_events(
        self, messages: str | list[Message], *, buffer_size: int | None = None
    ) -> StreamSession:
        """Stream one call's frames: its LLM events and its token chunks.

        Streaming is on for this call only; ``self.stream`` is left as it is. The
        call runs when the session is entered or first read; the session's
        ``result`` is the reply text.
        """
        from ..streaming.sessions import StreamSession

        return StreamSession(self._stream_start(messages), buffer_size=buffer_size)

    def astream_events(
        self, messages: str | list[Message], *, buffer_size: int | None = None
    ) -> AsyncStreamSession:
        """The async form of :meth:`stream_events` (use ``async with``)."""
        from ..streaming.sessions import AsyncStreamSession

        return AsyncStreamSession(self._stream_start(messages), buffer_size=buffer_size)
