"""The Anthropic adapter against a loopback server speaking the messages API."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from anycrew import LLM
from anycrew.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    ProviderError,
    StreamInterruptedError,
)
from anycrew.events import LLMCallCompletedEvent, LLMStreamChunkEvent, LLMThinkingChunkEvent
from anycrew.llms import Chunk, ToolCall

from ._loopback import Exchange, LoopbackServer, json_reply, serve, sse_reply
from .conftest import Recorder

pytestmark = pytest.mark.anyio

KEY = "sk-ant-test-0123456789-very-secret"
USER = [{"role": "user", "content": "hi"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def message(*content: dict[str, Any], stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": list(content),
        "stop_reason": stop_reason,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 6,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": 2,
        },
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def start(input_tokens: int = 9) -> tuple[str, dict[str, Any]]:
    return (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [],
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        },
    )


def block_start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def delta(index: int, **fields: Any) -> tuple[str, dict[str, Any]]:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": fields})


def block_stop(index: int) -> tuple[str, dict[str, Any]]:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def end(stop_reason: str = "end_turn", output_tokens: int = 5) -> list[tuple[str, Any]]:
    return [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def text_stream(*pieces: str) -> list[tuple[str, Any]]:
    return [
        start(),
        block_start(0, {"type": "text", "text": ""}),
        ("ping", {"type": "ping"}),
        *(delta(0, type="text_delta", text=piece) for piece in pieces),
        block_stop(0),
        *end(),
    ]


def make_llm(server: LoopbackServer, **params: Any) -> LLM:
    params.setdefault("api_key", KEY)
    return LLM(model="anthropic/claude-test", base_url=server.url, **params)


async def test_plain_message(recorder: Recorder) -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    async with serve(json_reply(message(text("Par"), text("is.")))) as server:
        response = await make_llm(server, temperature=0.5, stop=["END"]).agenerate(history)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.json() == {
        "model": "claude-test",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}],
        "max_tokens": 4096,
        "temperature": 0.5,
        "stop_sequences": ["END"],
    }
    assert response.text == "Paris."
    assert (response.prompt_tokens, response.cached_prompt_tokens) == (15, 3)
    assert response.completion_tokens == 6
    assert response.finish_reason == "end_turn"


async def test_streamed_text_and_thinking(recorder: Recorder) -> None:
    events = [
        start(input_tokens=20),
        block_start(0, {"type": "thinking", "thinking": ""}),
        delta(0, type="thinking_delta", thinking="Let me "),
        delta(0, type="thinking_delta", thinking="think."),
        delta(0, type="signature_delta", signature="sig"),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        delta(1, type="text_delta", text="Hello"),
        delta(1, type="text_delta", text=" there"),
        block_stop(1),
        *end(output_tokens=12),
    ]
    async with serve(sse_reply(*events)) as server:
        assert await make_llm(server, stream=True).acall("hi") == "Hello there"
    assert server.requests[0].json()["stream"] is True
    assert [e.chunk for e in recorder.of(LLMStreamChunkEvent)] == ["Hello", " there"]
    assert [e.chunk for e in recorder.of(LLMThinkingChunkEvent)] == ["Let me ", "think."]
    (done,) = recorder.of(LLMCallCompletedEvent)
    assert done.usage == {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32}


async def test_streamed_parallel_tool_use_split_across_deltas() -> None:
    events = [
        start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Checking."),
        block_stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}),
        delta(1, type="input_json_delta", partial_json=""),
        delta(1, type="input_json_delta", partial_json='{"city": '),
        delta(1, type="input_json_delta", partial_json='"Oslo"}'),
        block_stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}),
        block_stop(2),
        *end("tool_use"),
    ]
    chunks: list[Chunk] = []

    async def collect(chunk: Chunk) -> None:
        chunks.append(chunk)

    async with serve(sse_reply(*events)) as server:
        response = await make_llm(server, stream=True).agenerate(
            USER, on_chunk=collect, tools=[WEATHER_TOOL]
        )
    assert server.requests[0].json()["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert response.text == "Checking."
    assert response.finish_reason == "tool_use"
    assert response.tool_calls == [
        ToolCall("toolu_a", "get_weather", '{"city": "Oslo"}'),
        ToolCall("toolu_b", "get_time", "{}"),
    ]
    tool_chunks = [c for c in chunks if c.kind == "tool_call"]
    assert "".join(c.text for c in tool_chunks) == '{"city": "Oslo"}'
    assert [(c.tool_call or {})["index"] for c in tool_chunks] == [0, 0, 0, 0, 1]
    assert tool_chunks[0].tool_call == {
        "index": 0,
        "id": "toolu_a",
        "name": "get_weather",
        "arguments": "",
    }


async def test_tool_turns_are_translated() -> None:
    history = [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather and time in Oslo?"},
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "toolu_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
                {
                    "id": "toolu_b",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_b", "content": "noon"},
    ]
    reply = message(
        {"type": "tool_use", "id": "toolu_c", "name": "get_weather", "input": {"city": "Rome"}},
        stop_reason="tool_use",
    )
    async with serve(json_reply(reply)) as server:
        response = await make_llm(server).agenerate(history, tools=[WEATHER_TOOL])
    body = server.requests[0].json()
    assert body["system"] == "Use tools."
    assert body["messages"] == [
        {"role": "user", "content": [text("Weather and time in Oslo?")]},
        {
            "role": "assistant",
            "content": [
                text("Let me look."),
                {
                    "type": "tool_use",
                    "id": "toolu_a",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
                {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": [text("sunny")]},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": [text("noon")]},
            ],
        },
    ]
    assert response.tool_calls == [ToolCall("toolu_c", "get_weather", '{"city": "Rome"}')]


async def test_an_overload_before_any_content_is_retried() -> None:
    overloaded = sse_reply(
        start(),
        (
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ),
    )
    async with serve(overloaded, sse_reply(*text_stream("fine"))) as server:
        assert await make_llm(server, stream=True).acall("hi") == "fine"
    assert len(server.requests) == 2


async def test_an_error_event_after_content_is_raised() -> None:
    events = [
        *text_stream("partial")[:4],
        ("error", {"type": "error", "error": {"type": "api_error", "message": "Internal"}}),
    ]
    async with serve(sse_reply(*events), sse_reply(*text_stream("never"))) as server:
        with pytest.raises(ProviderError) as caught:
            await make_llm(server, stream=True).acall("hi")
    assert len(server.requests) == 1
    assert caught.value.status_code == 500
    assert caught.value.error_type == "api_error"
    assert caught.value.provider_message == "Internal"


async def test_529_is_retried_and_401_is_an_authentication_error() -> None:
    overloaded = json_reply(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        status=529,
        headers={"retry-after": "0"},
    )
    denied = json_reply(
        {"type": "error", "error": {"type": "authentication_error", "message": f"bad {KEY}"}},
        status=401,
    )
    async with serve(overloaded, json_reply(message(text("ok"))), denied) as server:
        llm = make_llm(server)
        assert await llm.acall("hi") == "ok"
        with pytest.raises(AuthenticationError) as caught:
            await llm.acall("hi")
    assert len(server.requests) == 3
    assert caught.value.error_type == "authentication_error"
    assert "ANTHROPIC_API_KEY" in str(caught.value)
    for shown in (str(caught.value), repr(caught.value), caught.value.provider_message):
        assert KEY not in shown


async def test_a_stream_cut_mid_way() -> None:
    async def cut(exchange: Exchange) -> None:
        await exchange.start_stream()
        for name, data in text_stream("Hel", "lo")[:4]:
            await exchange.send_event(data, event=name)
        await exchange.abort()

    async with serve(cut) as server:
        with pytest.raises(StreamInterruptedError) as caught:
            await make_llm(server, stream=True).acall("hi")
    assert caught.value.received == 3
    assert len(server.requests) == 1


async def test_cancelling_mid_stream_closes_the_connection() -> None:
    first = anyio.Event()

    async def endless(exchange: Exchange) -> None:
        await exchange.start_stream()
        for name, data in text_stream("first")[:4]:
            await exchange.send_event(data, event=name)
        await exchange.wait_closed()

    async def on_chunk(chunk: Chunk) -> None:
        first.set()

    async with serve(endless) as server:
        llm = make_llm(server, stream=True)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: llm.agenerate(USER, on_chunk=on_chunk))
                await first.wait()
                scope.cancel()
        with anyio.fail_after(5):
            await server.connections[0].closed.wait()


async def test_an_unknown_role_is_refused_before_any_request() -> None:
    async with serve() as server:
        with pytest.raises(InvalidInputError, match="role 'function'"):
            await make_llm(server).agenerate([{"role": "function", "content": "x"}])
    assert server.requests == []


def test_a_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="set the ANTHROPIC_API_KEY environment variable"):
        LLM(model="anthropic/claude-sonnet-4-5")


def test_parameters_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="does not take seed"):
        LLM(model="anthropic/claude-test", api_key=KEY, seed=1)
    with pytest.raises(ConfigurationError, match="thinking must be a dict"):
        LLM(model="anthropic/claude-test", api_key=KEY, thinking=True)
    llm = LLM(model="anthropic/claude-test", api_key=KEY)
    assert llm.supports_function_calling()
    assert KEY not in repr(llm)
    assert KEY not in repr(llm._adapter)
    assert KEY not in str(vars(llm._adapter))
