"""Tools: definition, the agent loop (native and ReAct), limits, cache, errors, cancellation."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, ValidationError

import anycrew
from anycrew import LLM, Agent, Crew, Task
from anycrew.errors import ConfigurationError
from anycrew.events import (
    LLMCallStartedEvent,
    LLMStreamChunkEvent,
    ToolExecutionErrorEvent,
    ToolSelectionErrorEvent,
    ToolUsageErrorEvent,
    ToolUsageFinishedEvent,
    ToolUsageStartedEvent,
    ToolValidateInputErrorEvent,
)
from anycrew.tools import BaseTool, tool

from .conftest import Recorder, warm_thread_pools

pytestmark = pytest.mark.anyio

CALLS: list[str] = []


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    CALLS.append(f"add({a}, {b})")
    return a + b


@tool("Multiply")
async def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    CALLS.append(f"multiply({a}, {b})")
    return a * b


class Shout(BaseTool):
    name: str = "shout"
    description: str = "Upper-case a text."

    def _run(self, text: str) -> str:
        return text.upper()


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    CALLS.clear()


def calc_crew(script: list[Any], *tools: BaseTool, native: bool = True, **agent: Any) -> Crew:
    llm = LLM(model="sim", tool_calls=script, native_tools=native)
    worker = Agent(role="Calculator", goal="g", backstory="b", llm=llm, tools=list(tools), **agent)
    task = Task(description="Compute it", expected_output="A number", agent=worker)
    return Crew(agents=[worker], tasks=[task])


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def test_tools_are_defined_from_functions_and_classes() -> None:
    assert add.name == "add"
    assert add.description == "Add two integers."
    assert multiply.name == "Multiply"
    assert multiply.function_name == "multiply"
    assert add.function_schema()["function"]["parameters"]["required"] == ["a", "b"]
    assert Shout().describe() == "shout(text: str): Upper-case a text."
    assert add.run(a=1, b=2) == 3
    assert multiply.run(a=2, b=3) == 6
    assert not add.is_async
    assert multiply.is_async

    with pytest.raises(ConfigurationError, match="needs a docstring"):

        @tool
        def undocumented(x: int) -> int:
            return x

    class Empty(BaseTool):
        name: str = "empty"
        description: str = "Nothing."

    with pytest.raises(ValueError, match=r"must implement _run\(\) or async _arun\(\)"):
        Empty()
    with pytest.raises(ValidationError):
        Agent(role="r", goal="g", backstory="b", tools=[lambda: 1])


async def test_native_calls_run_and_feed_their_results_back(recorder: Recorder) -> None:
    crew = calc_crew(
        [[call("add", a=2, b=3), call("Multiply", a=4, b=5)], "Final Answer: 5 and 20"],
        add,
        multiply,
    )
    result = await crew.akickoff()
    assert result.raw == "5 and 20"
    assert sorted(CALLS) == ["add(2, 3)", "multiply(4, 5)"]
    second_call = recorder.of(LLMCallStartedEvent)[1]
    assert isinstance(second_call.messages, list)
    tool_turns = [m for m in second_call.messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_turns] == ["5", "20"]
    assert second_call.messages[2]["tool_calls"][0]["function"]["name"] == "add"
    finished = {e.tool_name: e.output for e in recorder.of(ToolUsageFinishedEvent)}
    assert finished == {"add": 5, "Multiply": 20}
    assert all(e.channel == "tools" for e in recorder.of(ToolUsageStartedEvent))
    started = recorder.of(ToolUsageStartedEvent)[0]
    assert started.agent_role == "Calculator"
    assert started.task_name == "Compute it"


async def test_parallel_calls_overlap() -> None:
    arrived = 0
    both = anyio.Event()

    @tool
    async def meet(who: str) -> str:
        """Wait until both callers are here."""
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both.set()
        await both.wait()  # deadlocks unless the two calls run at the same time
        return f"met {who}"

    crew = calc_crew([[call("meet", who="a"), call("meet", who="b")], "Final Answer: ok"], meet)
    with anyio.fail_after(10):
        assert (await crew.akickoff()).raw == "ok"


async def test_react_protocol_for_models_without_function_calling(recorder: Recorder) -> None:
    crew = calc_crew([[call("add", a=1, b=1)], "Final Answer: two"], add, native=False)
    assert (await crew.akickoff()).raw == "two"
    assert CALLS == ["add(1, 1)"]
    first, second = recorder.of(LLMCallStartedEvent)
    assert first.tools is None
    assert "Action Input: <the arguments as a JSON object>" in first.messages[0]["content"]
    assert second.messages[-1] == {"role": "user", "content": "Observation: 2"}


@pytest.mark.parametrize("native", [True, False])
async def test_mistakes_come_back_as_observations(native: bool, recorder: Recorder) -> None:
    @tool
    def fragile(x: int) -> int:
        """Fail on purpose."""
        raise RuntimeError(f"cannot handle {x}")

    script = [
        [call("nope", x=1)],
        [{"name": "add", "arguments": "{not json"}],
        [call("add", a="many", b=2)],
        [call("fragile", x=7)],
        "Final Answer: gave up",
    ]
    result = await calc_crew(script, add, fragile, native=native).akickoff()
    assert result.raw == "gave up"
    assert CALLS == []
    (selection,) = recorder.of(ToolSelectionErrorEvent)
    assert "no tool named 'nope'" in selection.error
    invalid = recorder.of(ToolValidateInputErrorEvent)
    assert "not valid JSON" in invalid[0].error
    assert "do not fit its schema (a: Input should be a valid integer" in invalid[1].error
    (execution,) = recorder.of(ToolExecutionErrorEvent)
    assert execution.error == "RuntimeError: cannot handle 7"
    observations = [
        m["content"]
        for m in recorder.of(LLMCallStartedEvent)[-1].messages
        if m["role"] == "tool" or (m["content"] or "").startswith("Observation:")
    ]
    assert len(observations) == 4
    assert all("Error:" in text for text in observations)


async def test_usage_limit(recorder: Recorder) -> None:
    @tool(max_usage_count=1)
    def once(n: int) -> int:
        """Usable once."""
        CALLS.append(f"once({n})")
        return n

    script = [[call("once", n=1)], [call("once", n=2)], "Final Answer: done"]
    await calc_crew(script, once).akickoff()
    assert CALLS == ["once(1)"]
    (error,) = recorder.of(ToolUsageErrorEvent)
    assert "usage limit of 1" in error.error


@pytest.mark.parametrize("cache", [True, False])
async def test_results_are_cached_per_kickoff(cache: bool, recorder: Recorder) -> None:
    script = [[call("add", a=1, b=2)], [call("add", a=1, b=2)], "Final Answer: 3"]
    crew = calc_crew(script, add)
    crew.cache = cache
    await crew.akickoff()
    await crew.akickoff()  # a new kickoff starts with an empty cache
    assert ["add(1, 2)"] * (2 if cache else 4) == CALLS
    from_cache = [e.from_cache for e in recorder.of(ToolUsageFinishedEvent)]
    assert from_cache == ([False, True] * 2 if cache else [False] * 4)


async def test_cache_function_decides() -> None:
    class Picky(BaseTool):
        name: str = "picky"
        description: str = "Cache odd results only."

        def _run(self, n: int) -> int:
            CALLS.append(f"picky({n})")
            return n

    picky = Picky(cache_function=lambda arguments, result: result % 2 == 1)
    script = [
        [call("picky", n=2)],
        [call("picky", n=2)],
        [call("picky", n=3)],
        [call("picky", n=3)],
    ]
    await calc_crew([*script, "Final Answer: ok"], picky).akickoff()
    assert CALLS == ["picky(2)", "picky(2)", "picky(3)"]


async def test_result_as_answer_ends_the_task(recorder: Recorder) -> None:
    @tool(result_as_answer=True)
    def verdict(case: str) -> str:
        """Decide the case."""
        return f"{case}: approved"

    result = await calc_crew(
        [[call("verdict", case="A-1")], "Final Answer: unused"], verdict
    ).akickoff()
    assert result.raw == "A-1: approved"
    assert len(recorder.of(LLMCallStartedEvent)) == 1


async def test_max_iter_asks_once_for_the_final_answer(recorder: Recorder) -> None:
    endless = [[call("add", a=i, b=i)] for i in range(10)]
    result = await calc_crew(endless, add, max_iter=2).akickoff()
    starts = recorder.of(LLMCallStartedEvent)
    assert len(starts) == 3
    assert starts[-1].tools is None
    assert result.raw == "Simulated answer to: Compute it"
    assert CALLS == ["add(0, 0)", "add(1, 1)"]


async def test_tool_calls_stream_as_chunks(recorder: Recorder) -> None:
    llm = LLM(model="sim", stream=True, tool_calls=[[call("add", a=1, b=2)], "Final Answer: 3"])
    worker = Agent(role="r", goal="g", backstory="b", llm=llm, tools=[add])
    await Crew(
        agents=[worker], tasks=[Task(description="d", expected_output="e", agent=worker)]
    ).akickoff()
    tool_chunk = recorder.of(LLMStreamChunkEvent)[0]
    assert tool_chunk.tool_call == {
        "index": 0,
        "id": "call_0_0",
        "name": "add",
        "arguments": '{"a": 1, "b": 2}',
    }


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancelling_during_a_sync_tool(entry: str, recorder: Recorder) -> None:
    entered = threading.Event()
    steps: list[int] = []

    @tool
    def crawl(pages: int) -> str:
        """Crawl slowly, checking for cancellation between pages."""
        entered.set()
        for page in range(pages):
            anycrew.checkpoint()
            steps.append(page)
            time.sleep(0.01)
        return "crawled"

    crew = calc_crew([[call("crawl", pages=1000)], "Final Answer: done"], crawl)
    await warm_thread_pools()
    threads_before = threading.active_count()
    async with anyio.create_task_group() as tg:
        tg.start_soon(getattr(crew, entry))
        assert await anyio.to_thread.run_sync(entered.wait, 10)
        tg.cancel_scope.cancel()
    done = len(steps)
    assert 0 < done < 1000
    time.sleep(0.05)
    assert len(steps) == done  # the tool is not still running
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert threading.active_count() <= threads_before


def test_a_tools_parameters_schema_is_built_once_and_handed_out_as_copies() -> None:
    built: list[str] = []

    class Args(BaseModel):
        city: str

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            built.append(cls.__name__)
            return super().model_json_schema(*args, **kwargs)

    class Weather(BaseTool):
        name: str = "weather"
        description: str = "The weather in a city."
        args_schema: type[BaseModel] = Args

        def _run(self, city: str) -> str:
            return f"sunny in {city}"

    first = Weather().function_schema()
    first["function"]["parameters"]["properties"]["city"]["type"] = "changed"
    second = Weather().function_schema()
    assert second["function"]["parameters"]["properties"]["city"]["type"] == "string"
    assert built == ["Args"]


async def test_each_crew_counts_its_own_token_usage() -> None:
    """A crew run inside a tool counts its own calls; an LLM call a tool makes
    directly counts toward the crew whose agent used the tool."""
    inner_results: list[Any] = []

    @tool
    async def ask_inner(topic: str) -> str:
        """Ask a nested crew about a topic."""
        agent = Agent(role="Inner", goal="g", backstory="b", llm=LLM(model="sim"))
        task = Task(description=f"Study {topic}", expected_output="A line", agent=agent)
        result = await Crew(agents=[agent], tasks=[task]).akickoff()
        inner_results.append(result)
        return result.raw

    @tool
    async def ask_llm(question: str) -> str:
        """Ask the model directly."""
        return str(await LLM(model="sim").acall(question))

    crew = calc_crew(
        [[call("ask_inner", topic="tides")], [call("ask_llm", question="why")], "Final Answer: ok"],
        ask_inner,
        ask_llm,
    )
    result = await crew.akickoff()
    assert result.raw == "ok"
    (inner,) = inner_results
    # The outer agent's three calls, plus the one its tool made itself.
    assert result.token_usage.successful_requests == 4
    assert inner.token_usage.successful_requests == 1
    assert crew.usage_metrics == result.token_usage
