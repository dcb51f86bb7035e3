"""The LLM seam: the simulator, direct calls, custom BaseLLM subclasses, the registry."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from anycrew import LLM, Agent, BaseLLM, Crew, Task
from anycrew.errors import ConfigurationError
from anycrew.events import LLMCallCompletedEvent, LLMCallStartedEvent, LLMStreamChunkEvent
from anycrew.llm import default_llm
from anycrew.llms import LLMAdapter, LLMResponse
from anycrew.llms.registry import register_provider
from anycrew.llms.types import Chunk

from .conftest import Recorder

pytestmark = pytest.mark.anyio


async def test_replies_cycle_in_turn() -> None:
    llm = LLM(model="sim", replies=["one", "two"])
    assert [await llm.acall("q") for _ in range(3)] == ["one", "two", "one"]


async def test_replies_end_at_the_first_stop_sequence() -> None:
    reply = ["a STOP b END c"]
    assert await LLM(model="sim", replies=reply, stop=["END", "STOP"]).acall("q") == "a "
    assert await LLM(model="sim", replies=reply, stop=["END"]).acall("q") == "a STOP b "
    assert await LLM(model="sim", replies=reply, stop=["none"]).acall("q") == reply[0]


async def test_responders_sync_and_async() -> None:
    async def async_responder(messages: list[dict[str, Any]]) -> str:
        await anyio.sleep(0)
        return "async:" + messages[-1]["content"]

    assert await LLM(model="sim", responder=lambda m: m[-1]["content"][::-1]).acall("abc") == "cba"
    assert await LLM(model="sim", responder=async_responder).acall("hi") == "async:hi"


async def test_default_reply_names_the_prompt() -> None:
    assert await LLM(model="sim").acall("What is 2+2?\nmore") == "Simulated reply to: What is 2+2?"


async def test_streaming_emits_one_chunk_per_token(recorder: Recorder) -> None:
    llm = LLM(model="sim", stream=True, replies=["alpha beta  gamma\ndelta"])
    text = await llm.acall("go")
    chunks = recorder.of(LLMStreamChunkEvent)
    assert [c.chunk for c in chunks] == ["alpha", " beta", "  gamma", "\ndelta"]
    assert "".join(c.chunk for c in chunks) == text
    started, *_ = recorder.of(LLMCallStartedEvent)
    assert all(c.parent_event_id == started.event_id for c in chunks)
    (completed,) = recorder.of(LLMCallCompletedEvent)
    assert completed.response == text


async def test_a_reply_counts_as_many_tokens_as_it_streams_chunks() -> None:
    reply = " lead\tand\n\ntrailing  white\u2003space \r\n"
    messages = [
        {"role": "system", "content": "You are\tterse."},
        {"role": "user", "content": "one two\nthree"},
    ]
    chunks: list[str] = []

    async def collect(chunk: Chunk) -> None:
        chunks.append(chunk.text)

    llm = LLM(model="sim", replies=[reply])
    streamed = await llm.agenerate(messages, stream=True, on_chunk=collect)
    assert "".join(chunks) == reply.rstrip()
    whole = await llm.agenerate(messages, stream=False)
    assert whole.completion_tokens == streamed.completion_tokens == len(chunks) == 5
    assert whole.prompt_tokens == streamed.prompt_tokens == 6


async def test_latency_is_a_cancellable_wait() -> None:
    llm = LLM(model="sim", latency=60)
    with anyio.move_on_after(0.05) as scope:
        await llm.acall("slow")
    assert scope.cancelled_caught


async def test_tokens_per_second_paces_the_stream() -> None:
    llm = LLM(model="sim", stream=True, tokens_per_second=200, replies=["a b c d e"])
    arrivals: list[float] = []

    from anycrew.events import event_bus

    with event_bus.scoped_handlers():
        event_bus.register_handler(
            LLMStreamChunkEvent, lambda s, e: arrivals.append(time.monotonic())
        )
        await llm.acall("x")
    assert len(arrivals) == 5
    assert arrivals[-1] - arrivals[0] >= 4 / 200 * 0.9


def test_sync_call_runs_on_a_private_loop() -> None:
    assert (
        LLM(model="sim", replies=["sync ok"]).call([{"role": "user", "content": "x"}]) == "sync ok"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"latency": -1}, "latency must be a number >= 0"),
        ({"tokens_per_second": 0}, "tokens_per_second must be > 0"),
        ({"replies": []}, "non-empty list of strings"),
        ({"replies": "just one"}, "non-empty list of strings"),
        ({"responder": 42}, "responder must be callable"),
        ({"temprature": 0.2}, "does not take temprature"),
    ],
)
def test_simulator_parameters_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        LLM(model="sim", **params)


def test_model_strings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="unknown model provider 'gpt-4o'"):
        LLM(model="gpt-4o")
    with pytest.raises(ConfigurationError, match="non-empty string"):
        LLM(model="")
    assert LLM(model="sim/anything").model == "sim/anything"


def test_messages_are_checked() -> None:
    with pytest.raises(TypeError, match="message 0 must be a dict"):
        LLM(model="sim").call([("user", "hi")])  # type: ignore[list-item]


def test_default_llm_is_the_simulator_or_anycrew_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANYCREW_MODEL", raising=False)
    assert default_llm().model == "sim"
    monkeypatch.setenv("ANYCREW_MODEL", "sim/configured")
    assert default_llm().model == "sim/configured"
    assert default_llm() is default_llm()


class ThreadedLLM(BaseLLM):
    """A CrewAI-style custom LLM: a blocking call() that returns text."""

    def __init__(self) -> None:
        super().__init__(model="custom/threaded")
        self.threads: list[str] = []

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.threads.append(threading.current_thread().name)
        return "Final Answer: from a thread"


class NativeLLM(BaseLLM):
    async def acall(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        await anyio.sleep(0)
        return "Final Answer: native"


async def test_custom_llms_plug_into_agents(recorder: Recorder) -> None:
    threaded = ThreadedLLM()
    for llm, expected in [
        (threaded, "from a thread"),
        (NativeLLM(model="custom/native"), "native"),
    ]:
        agent = Agent(role="r", goal="g", backstory="b", llm=llm)
        task = Task(description="d", expected_output="e", agent=agent)
        result = await Crew(agents=[agent], tasks=[task]).akickoff()
        assert result.raw == expected
    assert threaded.threads
    assert threaded.threads[0] != threading.current_thread().name
    assert [e.model for e in recorder.of(LLMCallStartedEvent)] == [
        "custom/threaded",
        "custom/native",
    ]


async def test_a_bare_base_llm_says_what_to_override() -> None:
    with pytest.raises(NotImplementedError, match="override agenerate"):
        await BaseLLM(model="custom/none").agenerate([{"role": "user", "content": "x"}])


async def test_providers_register_through_the_one_registry() -> None:
    class Echo(LLMAdapter):
        async def generate(
            self, messages: Any, *, stream: bool, on_chunk: Any, tools: Any = None
        ) -> LLMResponse:
            return LLMResponse(text=f"{self.model_name}:{messages[-1]['content']}")

    register_provider("echo", Echo)
    assert await LLM(model="echo/v1").acall("ping") == "v1:ping"
    with pytest.raises(ConfigurationError, match="prefix"):
        register_provider("a/b", Echo)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("Current Task: Map the owls\n\nExpected output: a map", "Map the owls"),
        ("Current Task:   padded  \r\nnext", "padded"),
        ("Current Task: " + "x" * 130, "x" * 117 + "..."),
        ("Context first\nCurrent Task: Later line\nmore", "Later line"),
    ],
)
async def test_the_default_answer_names_the_task_line(content: str, named: str) -> None:
    answer = await LLM(model="sim").acall([{"role": "user", "content": content}])
    assert answer == f"Thought: I have what I need.\nFinal Answer: Simulated answer to: {named}"
