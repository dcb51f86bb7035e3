"""The HTTP plumbing the providers share: SSE, retry math, Retry-After, pooled clients."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from anycrew import LLM
from anycrew.adapters.llm._http import (
    RetryPolicy,
    Secret,
    ServerSentEvent,
    SSEDecoder,
    aclose_clients,
    parse_retry_after,
    retry_after_from_headers,
)
from anycrew.errors import (
    LLMConnectionError,
    LLMResponseError,
    LLMTimeoutError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
)

from ._loopback import json_reply, serve, sse_reply

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
REPLY = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


def decode(*pieces: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    decoder.close()
    return events


# -- server-sent events -----------------------------------------------------------------


def test_sse_fields_comments_and_multi_line_data() -> None:
    stream = (
        b": a comment, then a keep-alive\n\n"
        b'event: message_start\ndata: {"a": 1}\n\n'
        b"data: line one\ndata:line two\ndata:  indented\nid: 7\nretry: 1500\n\n"
        b"event: ignored-without-data\n\n"
        b"data:\n\n"
        b"unknown: field\ndata: [DONE]\n\n"
    )
    assert decode(stream) == [
        ServerSentEvent('{"a": 1}', event="message_start"),
        ServerSentEvent("line one\nline two\n indented", id="7", retry=1500),
        ServerSentEvent("", id="7"),
        ServerSentEvent("[DONE]", id="7"),
    ]


def test_sse_line_endings_and_any_split_of_the_bytes() -> None:
    stream = "\ufeffdata: a\r\n\r\ndata: b\rdata: c\r\revent: x\ndata: é€\n\n".encode()
    expected = [
        ServerSentEvent("a"),
        ServerSentEvent("b\nc"),
        ServerSentEvent("é€", event="x"),
    ]
    assert decode(stream) == expected
    # Byte by byte: CRLF and multi-byte characters split across pieces.
    assert decode(*(stream[i : i + 1] for i in range(len(stream)))) == expected
    for cut in range(len(stream)):
        assert decode(stream[:cut], stream[cut:]) == expected


def test_sse_drops_an_event_cut_off_by_the_end_of_the_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: whole\n\ndata: half") == [ServerSentEvent("whole")]
    decoder.close()
    assert decoder.feed(b"\n\n") == []


# -- retry policy and Retry-After ---------------------------------------------------------


def test_backoff_is_exponential_capped_and_fully_jittered() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.5, max_delay=8.0)
    assert [policy.backoff(n, rand=lambda: 1.0) for n in range(7)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        8.0,
        8.0,
    ]
    assert policy.backoff(3, rand=lambda: 0.0) == 0.0
    assert policy.backoff(3, rand=lambda: 0.25) == 1.0
    assert policy.backoff(10_000, rand=lambda: 1.0) == 8.0
    draws = [policy.backoff(2) for _ in range(200)]
    assert all(0.0 <= d <= 2.0 for d in draws)
    assert len(set(draws)) > 100


def test_delay_honours_retry_after_and_the_retry_budget() -> None:
    policy = RetryPolicy(max_retries=2, max_retry_after=60.0)
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=0.0) == 0.0
    assert policy.delay(0, retry_after=61.0) is None
    assert policy.delay(2, retry_after=1.0) is None
    assert policy.delay(1, rand=lambda: 1.0) == 1.0
    assert RetryPolicy(max_retries=0).delay(0) is None


def test_retry_after_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2", now=now) == 2.0
    assert parse_retry_after(" 0.25 ", now=now) == 0.25
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    for bad in (None, "", "-1", "nan", "inf", "soon"):
        assert parse_retry_after(bad, now=now) is None
    headers = httpx.Headers({"Retry-After": "5", "Retry-After-Ms": "250"})
    assert retry_after_from_headers(headers) == 0.25
    assert retry_after_from_headers(httpx.Headers({"Retry-After": "5"})) == 5.0
    assert retry_after_from_headers(httpx.Headers({"retry-after-ms": "x", "retry-after": "1"})) == 1
    assert retry_after_from_headers(httpx.Headers()) is None


def test_secrets_do_not_show() -> None:
    secret = Secret("sk-hidden")
    assert "sk-hidden" not in repr(secret)
    assert "sk-hidden" not in str(secret)
    assert "sk-hidden" not in f"{secret} {[secret]}"
    assert secret.reveal() == "sk-hidden"


# -- pooled clients --------------------------------------------------------------------


async def test_a_connection_failure_is_retried_then_reported() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nobody listens on this port now
    llm = LLM(
        model="openai/test", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0
    )
    with pytest.raises(LLMConnectionError, match=f"no reply from http://127.0.0.1:{port}/v1"):
        await llm.acall("hi")


async def test_aclose_clients_closes_pooled_connections() -> None:
    async with serve(json_reply(REPLY), json_reply(REPLY)) as server:
        llm = LLM(model="openai/test", base_url=server.url + "/v1", api_key="k")
        await llm.acall("hi")
        assert not server.connections[0].closed.is_set()
        await aclose_clients()
        with anyio.fail_after(5):
            await server.connections[0].closed.wait()
        await llm.acall("again")  # a new client, a new connection
    assert len(server.connections) == 2


async def test_clients_are_shared_per_endpoint_configuration() -> None:
    async with serve() as server:
        server.default = json_reply(REPLY)
        one = LLM(model="openai/test", base_url=server.url + "/v1", api_key="a")
        two = LLM(model="openai/test", base_url=server.url + "/v1", api_key="b")
        other = LLM(
            model="openai/test", base_url=server.url + "/v1", api_key="a", max_concurrency=3
        )
        for llm in (one, two, other):
            await llm.acall("hi")
    # One key or another, the same endpoint shares a client; another limit is another one.
    assert len(server.connections) == 2


def test_clients_close_with_their_event_loop() -> None:
    """Each private loop (asyncio and trio) closes its client when it ends, warning-free."""
    script = textwrap.dedent(
        """
        import gc, sys
        import anyio
        from anycrew import LLM
        from tests._loopback import json_reply, serve

        REPLY = {"choices": [{"index": 0, "message": {"content": "ok"}}]}

        async def main(backend):
            async with serve(json_reply(REPLY), json_reply(REPLY)) as server:
                llm = LLM(model="openai/t", base_url=server.url + "/v1", api_key="k")
                def in_private_loop():
                    return anyio.run(llm.acall, "hi", backend=backend)
                assert await anyio.to_thread.run_sync(in_private_loop) == "ok"
                with anyio.fail_after(5):
                    await server.connections[0].closed.wait()
                print(backend, "closed", len(server.connections))

        for backend in ("asyncio", "trio"):
            anyio.run(main, backend)
            gc.collect()
        """
    )
    env = {**os.environ, "PYTHONDEVMODE": "1"}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["asyncio closed 1", "trio closed 1"]
    assert "Warning" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr, result.stderr


# -- the provider examples ----------------------------------------------------------------

EXAMPLES = ROOT / "examples" / "providers"
CREDENTIALS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OLLAMA_BASE_URL")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIALS and k != "ANYCREW_MODEL"}
    return env | extra


def test_examples_say_what_to_set_and_run_against_a_provider() -> None:
    """Without credentials each example explains itself; with them it streams and kicks off."""
    from .test_llm_anthropic import text_stream as anthropic_stream
    from .test_llm_openai import text_stream as openai_stream

    cases: list[tuple[str, str, Any, Callable[[str], dict[str, str]]]] = [
        (
            "openai_chat.py",
            "OPENAI_API_KEY",
            openai_stream,
            lambda url: {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": url + "/v1"},
        ),
        (
            "anthropic_chat.py",
            "ANTHROPIC_API_KEY",
            anthropic_stream,
            lambda url: {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": url},
        ),
        (
            "ollama_chat.py",
            "OLLAMA_BASE_URL",
            openai_stream,
            lambda url: {"OLLAMA_BASE_URL": url + "/v1"},
        ),
    ]

    async def unconfigured(script: str, variable: str) -> None:
        result = await anyio.run_process(
            [sys.executable, str(EXAMPLES / script)], env=_clean_env(), check=False
        )
        assert result.returncode == 0, result.stderr.decode()
        assert f"Set {variable}" in result.stdout.decode()

    async def configured(script: str, stream: Any, env: Callable[[str], dict[str, str]]) -> None:
        replies = [
            sse_reply(*stream("Because ", "tasks must stop.")),
            sse_reply(*stream("Thought: done.\nFinal Answer: ", "Scoped tasks.")),
        ]
        async with serve(*replies) as server:
            result = await anyio.run_process(
                [sys.executable, str(EXAMPLES / script)],
                env=_clean_env(**env(server.url)),
                check=False,
            )
        stdout = result.stdout.decode()
        assert result.returncode == 0, (script, result.stderr.decode())
        assert "Streamed call: Because tasks must stop.\n" in stdout, (script, stdout)
        assert "Crew result: Scoped tasks.\n" in stdout, (script, stdout)
        assert len(server.requests) == 2

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for script, variable, stream, env in cases:
                tg.start_soon(unconfigured, script, variable)
                tg.start_soon(configured, script, stream, env)

    anyio.run(main)


def test_llm_errors_survive_pickling() -> None:
    errors = [
        ProviderError("m", provider="p", status_code=500, provider_message="x", retry_after=1.0),
        RateLimitError("m", provider="p", status_code=429, provider_message="x", retry_after=2.0),
        LLMTimeoutError("m", provider="p", phase="read"),
        StreamInterruptedError("m", provider="p", received=3),
        LLMResponseError("m", provider="p", excerpt="{"),
        LLMResponseError("plain"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert copy.args == error.args
        assert vars(copy) == vars(error)
