"""The OpenAI-compatible adapter against a loopback server speaking OpenAI's wire format."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from anycrew import LLM, Agent, Crew, Task
from anycrew.errors import (
    AuthenticationError,
    ConfigurationError,
    LLMResponseError,
    LLMTimeoutError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
)
from anycrew.events import (
    LLMCallCompletedEvent,
    LLMCallFailedEvent,
    LLMStreamChunkEvent,
    LLMThinkingChunkEvent,
)
from anycrew.llms import Chunk, ToolCall

from ._loopback import Exchange, LoopbackServer, json_reply, serve, sse_reply
from .conftest import Recorder

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789-very-secret"
USER = [{"role": "user", "content": "hi"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def completion(
    content: str | None = "hello",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    **message: Any,
) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, **message}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "total_tokens": 18,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def usage_chunk(prompt: int = 5, completion: int = 3) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
    }


def text_stream(*pieces: str) -> list[Any]:
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": piece}) for piece in pieces),
        chunk({}, "stop"),
        usage_chunk(),
        "[DONE]",
    ]


def make_llm(server: LoopbackServer, **params: Any) -> LLM:
    params.setdefault("api_key", KEY)
    return LLM(model="openai/test-model", base_url=server.url + "/v1", **params)


class Collector:
    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.first = anyio.Event()

    async def __call__(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.first.set()


async def test_plain_completion(recorder: Recorder) -> None:
    async with serve(json_reply(completion("Paris."))) as server:
        llm = make_llm(server, temperature=0.2, max_tokens=50, stop=["\n\n"], seed=7, top_p=0.9)
        assert await llm.acall("Capital of France?") == "Paris."
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "model": "test-model",
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "stop": ["\n\n"],
        "seed": 7,
    }
    (done,) = recorder.of(LLMCallCompletedEvent)
    assert done.usage == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


async def test_completion_fields() -> None:
    reply = completion("answer", reasoning_content="because")
    async with serve(json_reply(reply)) as server:
        response = await make_llm(server).agenerate(USER)
    assert response.text == "answer"
    assert response.thinking == "because"
    assert (response.prompt_tokens, response.completion_tokens) == (11, 7)
    assert response.cached_prompt_tokens == 4
    assert response.finish_reason == "stop"
    assert response.raw == reply


async def test_streamed_completion(recorder: Recorder) -> None:
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Think"}),
        chunk({"reasoning_content": "ing."}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({"content": " world"}),
        chunk({}, "stop"),
        usage_chunk(prompt=12, completion=3),
        "[DONE]",
    ]
    async with serve(sse_reply(*events)) as server:
        assert await make_llm(server, stream=True).acall("hi") == "Hello world"
    body = server.requests[0].json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert [e.chunk for e in recorder.of(LLMStreamChunkEvent)] == ["Hel", "lo", " world"]
    assert [e.chunk for e in recorder.of(LLMThinkingChunkEvent)] == ["Think", "ing."]
    (done,) = recorder.of(LLMCallCompletedEvent)
    assert done.usage == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


async def test_streamed_tool_call_split_across_chunks() -> None:
    first = {
        "index": 0,
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    events = [
        chunk({"role": "assistant", "content": None, "tool_calls": [first]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Pa'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ris"}'}}]}),
        chunk({}, "tool_calls"),
        usage_chunk(),
        "[DONE]",
    ]
    collector = Collector()
    async with serve(sse_reply(*events)) as server:
        response = await make_llm(server, stream=True).agenerate(
            USER, on_chunk=collector, tools=[WEATHER_TOOL]
        )
    assert server.requests[0].json()["tools"] == [WEATHER_TOOL]
    assert response.tool_calls == [ToolCall("call_abc", "get_weather", '{"city": "Paris"}')]
    assert response.finish_reason == "tool_calls"
    assert response.text == ""
    assert all(c.kind == "tool_call" for c in collector.chunks)
    assert "".join(c.text for c in collector.chunks) == '{"city": "Paris"}'
    assert all(
        c.tool_call is not None and c.tool_call["name"] == "get_weather" for c in collector.chunks
    )
    assert collector.chunks[0].tool_call == {
        "index": 0,
        "id": "call_abc",
        "name": "get_weather",
        "arguments": "",
    }


async def test_parallel_tool_calls_interleaved_by_index() -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        return chunk({"tool_calls": [{"index": index, **fields}]})

    events = [
        call(0, id="call_a", type="function", function={"name": "get_weather", "arguments": ""}),
        call(1, id="call_b", type="function", function={"name": "get_time", "arguments": ""}),
        call(1, function={"arguments": '{"tz": '}),
        call(0, function={"arguments": '{"city": "Oslo"}'}),
        call(1, function={"arguments": '"CET"}'}),
        chunk({}, "tool_calls"),
        "[DONE]",
    ]
    async with serve(sse_reply(*events)) as server:
        response = await make_llm(server, stream=True).agenerate(USER, tools=[WEATHER_TOOL])
    assert response.tool_calls == [
        ToolCall("call_a", "get_weather", '{"city": "Oslo"}'),
        ToolCall("call_b", "get_time", '{"tz": "CET"}'),
    ]


async def test_tool_turns_pass_through_and_whole_tool_calls_parse() -> None:
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    ]
    tool_calls = [
        {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "b", "arguments": '{"x": 1}'}},
    ]
    reply = completion(None, tool_calls=tool_calls, finish_reason="tool_calls")
    async with serve(json_reply(reply)) as server:
        response = await make_llm(server).agenerate(history, tools=[WEATHER_TOOL])
    assert server.requests[0].json()["messages"] == history
    assert response.tool_calls == [ToolCall("c1", "a", "{}"), ToolCall("c2", "b", '{"x": 1}')]
    assert response.text == ""


async def test_response_format_from_a_pydantic_model() -> None:
    class Answer(BaseModel):
        city: str

    async with serve(json_reply(completion('{"city": "Oslo"}'))) as server:
        await make_llm(server, response_format=Answer).acall("hi")
    response_format = server.requests[0].json()["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Answer"
    assert response_format["json_schema"]["schema"]["properties"]["city"]["type"] == "string"


async def test_429_with_retry_after_then_success() -> None:
    limited = json_reply(
        {"error": {"message": "Rate limit reached", "type": "requests"}},
        status=429,
        headers={"Retry-After": "0.2"},
    )
    async with serve(limited, json_reply(completion("ok"))) as server:
        started = anyio.current_time()
        assert await make_llm(server).acall("hi") == "ok"
        elapsed = anyio.current_time() - started
    assert len(server.requests) == 2
    assert elapsed >= 0.2  # the wait the server asked for was honoured


async def test_500_then_success() -> None:
    failing = json_reply({"error": {"message": "boom"}}, status=500)
    async with serve(failing, json_reply(completion("ok"))) as server:
        assert await make_llm(server).acall("hi") == "ok"
    assert len(server.requests) == 2


async def test_400_is_not_retried(recorder: Recorder) -> None:
    bad = json_reply(
        {"error": {"message": "Unknown parameter 'foo'", "type": "invalid_request_error"}},
        status=400,
    )
    async with serve(bad, json_reply(completion("never"))) as server:
        with pytest.raises(ProviderError) as caught:
            await make_llm(server).acall("hi")
    assert len(server.requests) == 1
    error = caught.value
    assert type(error) is ProviderError
    assert error.status_code == 400
    assert error.provider == "openai"
    assert error.provider_message == "Unknown parameter 'foo'"
    assert error.error_type == "invalid_request_error"
    assert "HTTP 400" in str(error)
    assert "Unknown parameter 'foo'" in str(error)
    (failed,) = recorder.of(LLMCallFailedEvent)
    assert failed.error.startswith("ProviderError: ")


async def test_429_until_the_retries_run_out() -> None:
    limited = json_reply(
        {"error": {"message": "slow down"}}, status=429, headers={"retry-after": "0"}
    )
    async with serve(limited, limited, json_reply(completion("late"))) as server:
        with pytest.raises(RateLimitError) as caught:
            await make_llm(server, max_retries=1).acall("hi")
    assert len(server.requests) == 2
    assert (caught.value.status_code, caught.value.retry_after) == (429, 0.0)
    assert caught.value.provider_message == "slow down"


async def test_a_retry_after_too_long_to_wait_raises_at_once() -> None:
    limited = json_reply(
        {"error": {"message": "quota"}}, status=429, headers={"Retry-After": "3600"}
    )
    async with serve(limited, json_reply(completion("never"))) as server:
        with pytest.raises(RateLimitError) as caught:
            await make_llm(server).acall("hi")
    assert len(server.requests) == 1
    assert caught.value.retry_after == 3600.0
    assert "retry after 3600s" in str(caught.value)


async def test_a_dropped_connection_before_the_reply_is_retried() -> None:
    async def hang_up(exchange: Exchange) -> None:
        await exchange.abort()

    async with serve(hang_up, json_reply(completion("second try"))) as server:
        assert await make_llm(server).acall("hi") == "second try"
    assert len(server.requests) == 2


async def test_a_stream_cut_mid_way_is_not_retried(recorder: Recorder) -> None:
    async def cut(exchange: Exchange) -> None:
        await exchange.start_stream()
        await exchange.send_event(chunk({"role": "assistant", "content": "Hel"}))
        await exchange.send_event(chunk({"content": "lo"}))
        await exchange.abort()

    async with serve(cut, sse_reply(*text_stream("never"))) as server:
        with pytest.raises(StreamInterruptedError) as caught:
            await make_llm(server, stream=True).acall("hi")
    assert len(server.requests) == 1
    assert caught.value.received == len("Hello")
    assert [e.chunk for e in recorder.of(LLMStreamChunkEvent)] == ["Hel", "lo"]
    assert len(recorder.of(LLMCallFailedEvent)) == 1


async def test_a_stream_cut_before_any_content_is_retried() -> None:
    async def cut(exchange: Exchange) -> None:
        await exchange.start_stream()
        await exchange.send_event(chunk({"role": "assistant", "content": ""}))
        await exchange.abort()

    async with serve(cut, sse_reply(*text_stream("a", "b"))) as server:
        assert await make_llm(server, stream=True).acall("hi") == "ab"
    assert len(server.requests) == 2


async def test_a_stream_without_its_end_is_interrupted() -> None:
    events = [chunk({"content": "partial"})]  # neither finish_reason nor [DONE]
    async with serve(sse_reply(*events)) as server:
        with pytest.raises(StreamInterruptedError, match="ended before the reply was complete"):
            await make_llm(server, stream=True, max_retries=0).acall("hi")


async def test_a_response_held_open_after_done_does_not_hang() -> None:
    async def held_open(exchange: Exchange) -> None:
        await exchange.start_stream()
        for event in text_stream("a", "b"):
            await exchange.send_event(event)
        await exchange.wait_closed()  # never ends the chunked body

    async with serve(held_open) as server:
        assert await make_llm(server, stream=True, timeout=30).acall("hi") == "ab"
        with anyio.fail_after(5):
            await server.connections[0].closed.wait()


async def test_malformed_json_is_a_response_error() -> None:
    async def garbage(exchange: Exchange) -> None:
        await exchange.send_body('{"choices": [oops', content_type="application/json")

    async with serve(garbage, json_reply(completion("never"))) as server:
        with pytest.raises(LLMResponseError) as caught:
            await make_llm(server).acall("hi")
    assert len(server.requests) == 1
    assert caught.value.excerpt == '{"choices": [oops'
    assert "not valid JSON" in str(caught.value)


async def test_a_reply_of_the_wrong_shape_is_a_response_error() -> None:
    async with serve(json_reply({"choices": []})) as server:
        with pytest.raises(LLMResponseError, match="unexpected shape"):
            await make_llm(server).acall("hi")


async def test_a_malformed_stream_event_is_a_response_error() -> None:
    events = [chunk({"content": "ok"}), "{broken", *text_stream("never")]
    async with serve(sse_reply(*events)) as server:
        with pytest.raises(LLMResponseError, match="stream event that is not valid JSON"):
            await make_llm(server, stream=True).acall("hi")
    assert len(server.requests) == 1
    # Stopping early dropped the half-read connection.
    with anyio.fail_after(5):
        await server.connections[0].closed.wait()


async def test_a_slow_server_times_out() -> None:
    async def silent(exchange: Exchange) -> None:
        await exchange.wait_closed()

    async with serve(silent, json_reply(completion("never"))) as server:
        with pytest.raises(LLMTimeoutError) as caught:
            await make_llm(server, timeout=0.2).acall("hi")
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.phase == "read"
        assert len(server.requests) == 1
        with anyio.fail_after(5):
            await server.connections[0].closed.wait()


async def test_cancelling_mid_stream_closes_the_connection() -> None:
    async def endless(exchange: Exchange) -> None:
        await exchange.start_stream()
        await exchange.send_event(chunk({"role": "assistant", "content": "first"}))
        await exchange.wait_closed()

    collector = Collector()
    async with serve(endless) as server:
        llm = make_llm(server, stream=True)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(llm.agenerate, USER, on_chunk=collector))
                await collector.first.wait()
                scope.cancel()
        assert scope.cancelled_caught
        assert [c.text for c in collector.chunks] == ["first"]
        with anyio.fail_after(5):
            await server.connections[0].closed.wait()


async def test_cancelling_while_waiting_for_the_reply_aborts_the_request() -> None:
    async def silent(exchange: Exchange) -> None:
        await exchange.wait_closed()

    async with serve(silent) as server:
        llm = make_llm(server)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(llm.acall, "hi")
                await server.request_arrived.wait()
                scope.cancel()
        with anyio.fail_after(5):
            await server.connections[0].closed.wait()
    assert len(server.requests) == 1


async def test_sequential_calls_reuse_one_connection() -> None:
    replies = [json_reply(completion(f"n{i}")) for i in range(3)]
    replies += [sse_reply(*text_stream(f"s{i}")) for i in range(3)]
    async with serve(*replies) as server:
        plain, streaming = make_llm(server), make_llm(server, stream=True)
        answers = [await plain.acall("hi") for _ in range(3)]
        answers += [await streaming.acall("hi") for _ in range(3)]
    assert answers == ["n0", "n1", "n2", "s0", "s1", "s2"]
    assert len(server.connections) == 1
    assert server.connections[0].requests == 6


async def test_concurrency_is_bounded_per_endpoint() -> None:
    async def held(exchange: Exchange) -> None:
        await anyio.sleep(0.05)  # the server's latency, so requests overlap
        await exchange.send_json(completion("ok"))

    async with serve() as server:
        server.default = held
        llm = make_llm(server, max_concurrency=10)
        results: list[str] = []

        async def one() -> None:
            results.append(await llm.acall("hi"))

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(one)
    assert results == ["ok"] * 100
    assert len(server.requests) == 100
    assert server.max_active_requests == 10
    assert server.max_active_connections <= 10
    assert len(server.connections) <= 10


async def test_a_crew_runs_on_the_openai_adapter(recorder: Recorder) -> None:
    async with serve(json_reply(completion("Thought: easy.\nFinal Answer: 42"))) as server:
        llm = LLM(model="openai/test", base_url=server.url + "/v1", api_key="sk-test")
        agent = Agent(role="Calculator", goal="Answer sums", backstory="Precise", llm=llm)
        task = Task(description="What is 6 * 7?", expected_output="A number", agent=agent)
        result = await Crew(agents=[agent], tasks=[task]).akickoff()
    assert result.raw == "42"
    messages = server.requests[0].json()["messages"]
    assert any("What is 6 * 7?" in m["content"] for m in messages)
    assert [e.model for e in recorder.of(LLMCallCompletedEvent)] == ["openai/test"]


async def test_ollama_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with serve(json_reply(completion("local"))) as server:
        llm = LLM(model="ollama/llama3.2", base_url=server.url + "/v1")
        assert await llm.acall("hi") == "local"
    assert "authorization" not in server.requests[0].headers
    assert server.requests[0].json()["model"] == "llama3.2"


async def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    async with serve(json_reply(completion("ok"))) as server:
        await LLM(model="openai/gpt-test", base_url=server.url + "/v1").acall("hi")
    assert server.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_openai_compatible_models_take_tools_natively() -> None:
    assert LLM(model="openai/gpt-4o", api_key=KEY).supports_function_calling()
    assert LLM(model="ollama/llama3.2").supports_function_calling()


def test_a_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="set the OPENAI_API_KEY environment variable"):
        LLM(model="openai/gpt-4o")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"temprature": 0.1}, "does not take temprature; its parameters are temperature"),
        ({"base_url": "localhost:8080"}, "base_url must be an http:// or https:// URL"),
        ({"temperature": -1}, "temperature must be a number >= 0"),
        ({"max_tokens": 0}, "max_tokens must be an integer >= 1"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0"),
        ({"timeout": 0}, "timeout must be a number > 0"),
        ({"stop": "END"}, "stop must be a list of strings"),
        ({"extra_headers": {"X-A": 1}}, "extra_headers must be a dict of strings"),
        ({"response_format": "json"}, "response_format must be a dict"),
        ({"api_key": ""}, "api_key must be a non-empty string"),
    ],
)
def test_parameters_are_checked(params: dict[str, Any], message: str) -> None:
    params.setdefault("api_key", KEY)
    with pytest.raises(ConfigurationError, match=message):
        LLM(model="openai/gpt-4o", **params)


def test_the_sync_call_works_on_its_private_loop() -> None:
    async def main() -> str:
        async with serve(json_reply(completion("sync ok"))) as server:
            llm = make_llm(server)
            return await anyio.to_thread.run_sync(llm.call, "hi")

    assert anyio.run(main) == "sync ok"


async def test_secrets_stay_out_of_reprs_errors_logs_and_events(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    header_secret = "hdr-secret-abcdef"

    def echo(status: int) -> Any:
        async def reply(exchange: Exchange) -> None:
            seen = dict(exchange.request.headers)
            message = f"bad key {seen.get('authorization')} {seen.get('x-custom-token')}"
            await exchange.send_json(
                {"error": {"message": message, "headers": seen}}, status=status
            )

        return reply

    async def echo_garbage(exchange: Exchange) -> None:
        await exchange.send_body("not json " + exchange.request.headers["authorization"])

    async def echo_in_stream(exchange: Exchange) -> None:
        await exchange.start_stream()
        await exchange.send_event({"error": {"message": exchange.request.headers["authorization"]}})
        await exchange.end_stream()

    async def echo_then_cut(exchange: Exchange) -> None:
        await exchange.start_stream()
        await exchange.send_event(chunk({"content": "x"}))
        await exchange.send_chunk("data: " + exchange.request.headers["authorization"])
        await exchange.abort()

    scenarios: list[tuple[Any, bool, type[Exception]]] = [
        (echo(401), False, AuthenticationError),
        (echo(403), False, AuthenticationError),
        (echo(429), False, RateLimitError),
        (echo(500), False, ProviderError),
        (echo(400), False, ProviderError),
        (echo_garbage, False, LLMResponseError),
        (echo_in_stream, True, ProviderError),
        (echo_then_cut, True, StreamInterruptedError),
    ]
    errors: list[Exception] = []
    async with serve() as server:
        for reply, stream, expected in scenarios:
            server.add(reply)
            llm = make_llm(
                server,
                stream=stream,
                max_retries=0,
                extra_headers={"X-Custom-Token": header_secret, "X-Trace": "visible"},
            )
            with pytest.raises(expected) as caught:
                await llm.acall("hi")
            errors.append(caught.value)
            for text in (repr(llm), repr(llm._adapter), str(vars(llm._adapter))):
                assert KEY not in text
    assert server.requests[0].headers["x-custom-token"] == header_secret
    assert server.requests[0].headers["x-trace"] == "visible"
    for error in errors:
        shown = [str(error), repr(error), *map(str, vars(error).values())]
        for text in shown:
            assert KEY not in text, (type(error), text)
            assert header_secret not in text, (type(error), text)
    assert "********" in str(errors[0])
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert KEY not in logged
    assert header_secret not in logged
    assert recorder.events
    for event in recorder.events:
        dumped = event.model_dump_json()
        assert KEY not in dumped
        assert header_secret not in dumped
