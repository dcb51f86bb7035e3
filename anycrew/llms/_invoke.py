"""One LLM call with its events, its cancellation point and its token accounting."""

from __future__ import annotations

from collections.abc import Coroutine
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

from .. import runtime
from ..events._emit import emit, step_objects, unheard_id
from ..events.base import BaseEvent
from ..events.bus import event_bus
from ..events.llm_events import (
    LLMCallCompletedEvent,
    LLMCallFailedEvent,
    LLMCallStartedEvent,
    LLMCallType,
    LLMStreamChunkEvent,
    LLMThinkingChunkEvent,
)
from ..hooks import _run as hooks
from .base_llm import BaseLLM
from .types import Chunk, LLMResponse, Message

_force_stream: ContextVar[bool] = ContextVar("anycrew_force_stream", default=False)
_rate_limits: ContextVar[tuple[runtime.RateLimiter, ...]] = ContextVar(
    "anycrew_rate_limits", default=()
)


def rate_limited(
    limiter: runtime.RateLimiter | None,
) -> runtime.bind[tuple[runtime.RateLimiter, ...]] | None:
    """Make every LLM call inside the block wait for *limiter* too (``max_rpm``).

    None when *limiter* is None: there is nothing to bind (for :func:`runtime.bind_all`).
    """
    if limiter is None:
        return None
    return runtime.bind(_rate_limits, (*_rate_limits.get(), limiter))


def streaming_tokens() -> runtime.bind[bool]:
    """Make every LLM call inside the block stream its tokens (for stream sessions)."""
    return runtime.bind(_force_stream, True)


class _ChunkEvents:
    """A call's chunk callback: emits each streamed chunk as an event.

    One small object per call (most calls never stream), where a closure would
    cost four and a partial two.
    """

    __slots__ = ("call_id", "model", "source")

    def __init__(self, source: Any, model: str, call_id: str) -> None:
        self.source = source
        self.model = model
        self.call_id = call_id

    async def __call__(self, chunk: Chunk) -> None:
        if chunk.kind == "thinking":
            event: BaseEvent = LLMThinkingChunkEvent(
                model=self.model, call_id=self.call_id, chunk=chunk.text
            )
        else:
            event = LLMStreamChunkEvent(
                model=self.model, call_id=self.call_id, chunk=chunk.text, tool_call=chunk.tool_call
            )
        await emit(self.source, event)


def describe_error(exc: BaseException) -> str:
    """A one-line description of *exc* for events."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def invoke_llm(
    llm: BaseLLM,
    messages: list[Message],
    *,
    source: Any = None,
    stream: bool | None = None,
    tools: list[dict[str, Any]] | None = None,
    response_format: type[BaseModel] | None = None,
    router: runtime.Router | None = None,
    on_open: runtime.OnOpen | None = None,
) -> Coroutine[Any, Any, LLMResponse]:
    """Call *llm* with events, inside the current run or a run of its own.

    *stream* overrides ``llm.stream`` for this call only; *router* and *on_open* are
    for the run this call opens when there is none (stream sessions use them).

    A plain function handing back a coroutine to await: inside a run (every call an
    agent makes) that is the call itself, one coroutine less per LLM call.
    """
    if runtime.current_run() is None:
        return runtime.open_run(
            lambda _run: _invoke(llm, messages, source, stream, tools, response_format),
            router=router or event_bus.active_registry(),
            on_open=on_open,
        )
    return _invoke(llm, messages, source, stream, tools, response_format)


async def _invoke(
    llm: BaseLLM,
    messages: list[Message],
    source: Any,
    stream: bool | None,
    tools: list[dict[str, Any]] | None,
    response_format: type[BaseModel] | None = None,
) -> LLMResponse:
    # No new call may start once the run is cancelled, even at zero latency, nor
    # once the host of a worker's loop is (its news may still be on the way).
    await runtime.checkpoint_if_cancelled()
    pending = None
    found = hooks.registries()
    if found is not None:
        # Before the rate limit and the events: a blocked call takes no slot and
        # never starts; the started event shows the messages as the hooks left them.
        pending = await hooks.before_llm_call(found, llm, messages)
    step = step_objects()
    if step is not None:
        step.count_llm_call()
    for limiter in _rate_limits.get():
        await limiter.acquire()
    source = source if source is not None else llm
    call_id = runtime.new_hex_id()
    # The messages are copied only for a listener.
    started_id = (
        unheard_id(LLMCallStartedEvent)
        or (
            await emit(
                source,
                LLMCallStartedEvent(
                    model=llm.model, call_id=call_id, messages=[dict(m) for m in messages]
                ),
            )
        ).event_id
    )

    on_chunk = _ChunkEvents(source, llm.model, call_id)
    try:
        entered = runtime.enter_span(runtime.span(started_id))
        try:
            if stream is None and _force_stream.get():
                stream = True
            response = await llm.agenerate(
                messages,
                on_chunk=on_chunk,
                stream=stream,
                tools=tools,
                response_format=response_format,
            )
        finally:
            runtime.leave_span(entered)
    except Exception as exc:
        await emit(
            source,
            LLMCallFailedEvent(
                model=llm.model,
                call_id=call_id,
                error=describe_error(exc),
                started_event_id=started_id,
            ),
        )
        raise
    # The crew's token counts, when the call is made inside one.
    usage = None if step is None else step.usage
    if usage is not None:
        usage.add_counts(
            total_tokens=response.total_tokens,
            prompt_tokens=response.prompt_tokens,
            cached_prompt_tokens=response.cached_prompt_tokens,
            completion_tokens=response.completion_tokens,
            successful_requests=1,
        )
    if runtime.wants(LLMCallCompletedEvent):  # its fields are built only for a listener
        await emit(
            source,
            LLMCallCompletedEvent(
                model=llm.model,
                call_id=call_id,
                response=response.text
                if not response.tool_calls
                else [
                    {"id": c.id, "name": c.name, "arguments": c.arguments}
                    for c in response.tool_calls
                ],
                call_type=LLMCallType.TOOL_CALL if response.tool_calls else LLMCallType.LLM_CALL,
                usage={
                    "prompt_tokens": response.prompt_tokens,
                    "completion_tokens": response.completion_tokens,
                    "total_tokens": response.total_tokens,
                },
                started_event_id=started_id,
            ),
        )
    if pending is not None:
        # After the completed event, which records what the model said; the after
        # hooks decide what the caller gets.
        response = await pending.finish(response)
    return response
