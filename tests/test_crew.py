"""Crews: outputs, interpolation, context, validation, async tasks, timeouts, for-each."""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import ValidationError

from anycrew import LLM, Agent, Crew, Process, Task, TaskOutput
from anycrew.errors import AgentExecutionTimeoutError, ConfigurationError, InvalidInputError
from anycrew.events import (
    AgentExecutionErrorEvent,
    LLMCallFailedEvent,
    TaskCancelledEvent,
    TaskStartedEvent,
)

from .conftest import Recorder, make_crew

pytestmark = pytest.mark.anyio


class Transcript:
    """A responder that records the prompts it gets and answers by task line."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        task_line = prompt.splitlines()[0].removeprefix("Current Task: ")
        return f"Thought: easy\nFinal Answer: out({task_line})"


async def test_outputs_follow_crewai_shape() -> None:
    crew = make_crew(2)
    result = await crew.akickoff({"topic": "tides"})
    assert result.raw == "Simulated answer to: Step 2: study tides"
    assert str(result) == result.raw
    assert [t.raw for t in result.tasks_output] == [
        "Simulated answer to: Step 1: study tides",
        "Simulated answer to: Step 2: study tides",
    ]
    first = result.tasks_output[0]
    assert first.description == "Step 1: study tides"
    assert first.name == "step1"
    assert first.agent == "Analyst of tides"
    assert first.summary == "Step 1: study tides..."
    assert result.to_dict() == {}
    with pytest.raises(KeyError):
        result["anything"]
    with pytest.raises(ValueError, match="not JSON"):
        _ = first.json
    usage = result.token_usage
    assert usage.successful_requests == 2
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert crew.tasks[1].output == result.tasks_output[1]


def test_structured_outputs_read_through() -> None:
    output = TaskOutput(description="d", raw="{}", json_dict={"answer": 42})
    assert output["answer"] == 42
    assert output.to_dict() == {"answer": 42}
    assert str(output) == "{'answer': 42}"


async def test_each_kickoff_interpolates_from_the_templates() -> None:
    transcript = Transcript()
    crew = make_crew(1, llm=LLM(model="sim", responder=transcript))
    first = await crew.akickoff({"topic": "owls"})
    second = await crew.akickoff({"topic": "bees"})
    assert first.raw == "out(Step 1: study owls)"
    assert second.raw == "out(Step 1: study bees)"
    assert crew.tasks[0].description == "Step 1: study {topic}"
    assert crew.agents[0].role == "Analyst of {topic}"


async def test_agent_persona_is_interpolated_into_the_prompt() -> None:
    seen: list[list[dict[str, Any]]] = []

    def responder(messages: list[dict[str, Any]]) -> str:
        seen.append(messages)
        return "Final Answer: ok"

    crew = make_crew(1, llm=LLM(model="sim", responder=responder))
    await crew.akickoff({"topic": "lichens", "unused": [1, {"a": None}]})
    system = seen[0][0]["content"]
    assert "You are Analyst of lichens. Knows lichens well" in system
    assert "Your personal goal is: Explain lichens" in system


async def test_lists_and_dicts_are_interpolated_as_json() -> None:
    transcript = Transcript()
    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim", responder=transcript))
    task = Task(
        description='Ages: {ages} and {meta}; keep {{braces}} and {"json": 1}',
        expected_output="x",
        agent=agent,
    )
    await Crew(agents=[agent], tasks=[task]).akickoff({"ages": [25, 30], "meta": {"k": "v"}})
    assert '{"k": "v"}' in transcript.prompts[0]
    assert "Ages: [25, 30]" in transcript.prompts[0]
    assert '{"json": 1}' in transcript.prompts[0]
    assert "keep {braces} and" in transcript.prompts[0]


async def test_context_defaults_to_all_earlier_tasks_and_can_be_limited() -> None:
    transcript = Transcript()
    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim", responder=transcript))
    t1 = Task(description="one", expected_output="x", agent=agent)
    t2 = Task(description="two", expected_output="x", agent=agent)
    t3 = Task(description="three", expected_output="x", agent=agent)
    t4 = Task(description="four", expected_output="x", agent=agent, context=[t1])
    t5 = Task(description="five", expected_output="x", agent=agent, context=[])
    await Crew(agents=[agent], tasks=[t1, t2, t3, t4, t5]).akickoff()
    one, two, three, four, five = transcript.prompts
    assert "Context" not in one
    assert "out(one)" in two
    assert "out(one)" in three
    assert "out(two)" in three
    assert "out(one)" in four
    assert "out(two)" not in four
    assert "out(three)" not in four
    assert "Context" not in five


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "missing input 'topic' for agent 'Analyst of {topic}' (role)"),
        ({"topic": object()}, "input 'topic' is a object"),
        ({"topic": [1, {2: 3}]}, "non-string key 2"),
        (["topic"], "inputs must be a dict"),
        ({1: "x"}, "input names must be strings"),
    ],
)
async def test_bad_inputs_fail_before_anything_runs(
    inputs: Any, message: str, recorder: Recorder
) -> None:
    crew = make_crew(2)
    with pytest.raises(InvalidInputError) as info:
        await crew.akickoff(inputs)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    assert recorder.events == []


async def test_missing_task_placeholder_names_the_task() -> None:
    agent = Agent(role="r", goal="g", backstory="b", llm="sim")
    task = Task(description="Compare {a} with {b}", expected_output="x", agent=agent, name="cmp")
    with pytest.raises(
        InvalidInputError, match=r"missing input 'b' for task 'cmp' \(description\)"
    ):
        await Crew(agents=[agent], tasks=[task]).akickoff({"a": 1})


def test_construction_is_validated() -> None:
    agent = Agent(role="r", goal="g", backstory="b", llm="sim")
    orphan = Task(description="d", expected_output="e")
    with pytest.raises(ValidationError, match="has no agent"):
        Crew(agents=[agent], tasks=[orphan])
    later = Task(description="later", expected_output="e", agent=agent)
    early = Task(description="early", expected_output="e", agent=agent, context=[later])
    with pytest.raises(ValidationError, match="does not come earlier"):
        Crew(agents=[agent], tasks=[early, later])
    with pytest.raises(ConfigurationError, match="hierarchical crew needs a manager"):
        Crew(agents=[agent], tasks=[later], process=Process.hierarchical)
    with pytest.raises(ValidationError, match="at least one task"):
        Crew(agents=[agent], tasks=[])
    with pytest.raises(ValidationError):
        Agent(role="r", goal="g", backstory="b", max_iter=0)
    with pytest.raises(ValidationError, match="unknown model provider 'nope'"):
        Agent(role="r", goal="g", backstory="b", llm="nope/model")


async def test_async_tasks_run_concurrently_and_join_the_next_sync_task() -> None:
    arrived = 0
    both_here = anyio.Event()

    async def responder(messages: list[dict[str, Any]]) -> str:
        nonlocal arrived
        task_line = messages[-1]["content"].splitlines()[0]
        if "parallel" in task_line:
            arrived += 1
            if arrived == 2:
                both_here.set()
            await both_here.wait()  # deadlocks unless both calls are in flight at once
        return f"Final Answer: {task_line}"

    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim", responder=responder))
    a = Task(description="parallel A", expected_output="x", agent=agent, async_execution=True)
    b = Task(description="parallel B", expected_output="x", agent=agent, async_execution=True)
    c = Task(description="join", expected_output="x", agent=agent)
    with anyio.fail_after(10):
        result = await Crew(agents=[agent], tasks=[a, b, c]).akickoff()
    assert [t.raw for t in result.tasks_output] == [
        "Current Task: parallel A",
        "Current Task: parallel B",
        "Current Task: join",
    ]


async def test_a_failing_async_task_cancels_its_sibling(recorder: Recorder) -> None:
    async def responder(messages: list[dict[str, Any]]) -> str:
        if "fails" in messages[-1]["content"]:
            await anyio.wait_all_tasks_blocked()
            raise RuntimeError("boom")
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim", responder=responder))
    slow = Task(description="waits", expected_output="x", agent=agent, async_execution=True)
    bad = Task(description="fails", expected_output="x", agent=agent, async_execution=True)
    # A crew ends with at most one async task (CrewAI's rule): a synchronous one joins them.
    join = Task(description="join", expected_output="x", agent=agent)
    with pytest.raises(RuntimeError, match="boom"):
        await Crew(agents=[agent], tasks=[slow, bad, join]).akickoff()
    cancelled = recorder.of(TaskCancelledEvent)
    assert [e.task_name for e in cancelled] == ["waits"]
    assert "join" not in [e.task_name for e in recorder.of(TaskStartedEvent)]
    assert recorder.types[-1] == "crew_kickoff_failed"


async def test_max_execution_time_raises_a_named_timeout(recorder: Recorder) -> None:
    agent = Agent(
        role="Slowpoke",
        goal="g",
        backstory="b",
        llm=LLM(model="sim", latency=30),
        max_execution_time=0.05,
    )
    task = Task(description="d", expected_output="e", agent=agent, name="long job")
    with pytest.raises(AgentExecutionTimeoutError) as info:
        await Crew(agents=[agent], tasks=[task]).akickoff()
    assert isinstance(info.value, TimeoutError)
    assert "'Slowpoke'" in str(info.value)
    assert "'long job'" in str(info.value)
    assert recorder.of(AgentExecutionErrorEvent)[0].error.startswith("AgentExecutionTimeoutError")
    assert recorder.types[-2:] == ["task_failed", "crew_kickoff_failed"]


async def test_llm_failures_are_reported_and_raised_unchanged(recorder: Recorder) -> None:
    class ProviderDown(Exception):
        pass

    def responder(messages: list[dict[str, Any]]) -> str:
        raise ProviderDown("503 from upstream")

    crew = make_crew(1, llm=LLM(model="sim", responder=responder))
    with pytest.raises(ProviderDown):
        await crew.akickoff({"topic": "x"})
    (failed,) = recorder.of(LLMCallFailedEvent)
    assert failed.error == "ProviderDown: 503 from upstream"


async def test_task_callbacks_sync_and_async() -> None:
    got: list[str] = []

    async def async_callback(output: TaskOutput) -> None:
        got.append("async:" + output.raw)

    agent = Agent(
        role="r", goal="g", backstory="b", llm=LLM(model="sim", replies=["Final Answer: A"])
    )
    t1 = Task(
        description="a", expected_output="x", agent=agent, callback=lambda o: got.append(o.raw)
    )
    t2 = Task(description="b", expected_output="x", agent=agent, callback=async_callback)
    await Crew(agents=[agent], tasks=[t1, t2]).akickoff()
    assert got == ["A", "async:A"]


async def test_for_each_keeps_input_order_and_limits_concurrency() -> None:
    in_flight = peak = 0

    async def responder(messages: list[dict[str, Any]]) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return "Final Answer: " + messages[-1]["content"].splitlines()[0]

    crew = make_crew(1, llm=LLM(model="sim", responder=responder))
    results = await crew.akickoff_for_each([{"topic": str(i)} for i in range(6)], max_concurrency=2)
    assert [r.raw for r in results] == [f"Current Task: Step 1: study {i}" for i in range(6)]
    assert peak == 2


async def test_for_each_lets_the_loop_run_while_it_starts_copies() -> None:
    """A big fan-out does not hold the event loop until every copy has started:
    other tasks run between batches of copies (here, copies that never sleep)."""
    answered = 0

    def responder(messages: list[dict[str, Any]]) -> str:
        nonlocal answered
        answered += 1
        return "Final Answer: done"

    crew = make_crew(1, llm=LLM(model="sim", responder=responder))
    seen: list[int] = []
    finished = False

    async def watch() -> None:
        while not finished:
            seen.append(answered)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        results = await crew.akickoff_for_each([{"topic": str(i)} for i in range(200)])
        finished = True
    assert len(results) == 200
    # The watcher saw the fan-out part-way through, more than once.
    assert len({count for count in seen if 0 < count < 200}) >= 3


async def test_cancelling_a_fan_out_while_it_starts_copies_starts_no_more() -> None:
    answered = 0
    with anyio.CancelScope() as scope:

        def responder(messages: list[dict[str, Any]]) -> str:
            nonlocal answered
            answered += 1
            if answered == 40:  # in the second batch of copies
                scope.cancel()
            return "Final Answer: done"

        crew = make_crew(1, llm=LLM(model="sim", responder=responder))
        await crew.akickoff_for_each([{"topic": str(i)} for i in range(200)])
    assert scope.cancelled_caught
    for _ in range(20):
        await anyio.lowlevel.checkpoint()
    # The copies already started stop before their LLM call; no more are started.
    assert answered == 40


async def test_for_each_first_failure_cancels_the_rest(recorder: Recorder) -> None:
    async def responder(messages: list[dict[str, Any]]) -> str:
        if "study bad" in messages[-1]["content"]:
            await anyio.wait_all_tasks_blocked()
            raise LookupError("bad copy")
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    crew = make_crew(1, llm=LLM(model="sim", responder=responder))
    with pytest.raises(LookupError, match="bad copy"):
        await crew.akickoff_for_each([{"topic": "a"}, {"topic": "bad"}, {"topic": "c"}])
    assert recorder.types.count("crew_kickoff_cancelled") == 2
    assert recorder.types.count("crew_kickoff_failed") == 1


async def test_for_each_validates_every_input_first(recorder: Recorder) -> None:
    crew = make_crew(1)
    with pytest.raises(InvalidInputError, match="missing input 'topic'"):
        await crew.akickoff_for_each([{"topic": "fine"}, {}])
    with pytest.raises(ConfigurationError, match="list of input dicts"):
        await crew.akickoff_for_each({"topic": "x"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        await crew.akickoff_for_each([{"topic": "x"}], max_concurrency=0)
    assert recorder.events == []


async def test_for_each_fills_each_copys_personas_and_context(recorder: Recorder) -> None:
    llm = LLM(model="sim", responder=lambda m: "Final Answer: " + m[0]["content"].split(".")[0])
    fixed = Agent(role="Editor", goal="Check", backstory="Careful", llm=llm)
    filled = Agent(role="{topic} expert", goal="Know {topic}", backstory="Old hand", llm=llm)
    first = Task(description="Study {topic}", expected_output="notes", agent=filled)
    second = Task(description="Edit", expected_output="text", agent=fixed, context=[first])
    crew = Crew(agents=[filled, fixed], tasks=[first, second])
    results = await crew.akickoff_for_each([{"topic": "owls"}, {"topic": "bees"}])
    assert [[o.raw for o in r.tasks_output] for r in results] == [
        ["You are owls expert", "You are Editor"],
        ["You are bees expert", "You are Editor"],
    ]
    assert [o.agent for r in results for o in r.tasks_output] == [
        "owls expert",
        "Editor",
        "bees expert",
        "Editor",
    ]
    contexts = [e.context for e in recorder.of(TaskStartedEvent) if e.task_name == "Edit"]
    assert sorted(contexts) == ["You are bees expert", "You are owls expert"]


async def test_task_started_carries_its_context(recorder: Recorder) -> None:
    await make_crew(2).akickoff({"topic": "z"})
    first, second = recorder.of(TaskStartedEvent)
    assert first.context is None
    assert second.context == "Simulated answer to: Step 1: study z"
    assert json.loads(second.model_dump_json())["task_name"] == "step2"


def test_verbose_reports_progress_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()  # as in a script that configured no logging
    try:
        crew = make_crew(2)
        crew.verbose = True
        crew.kickoff({"topic": "x"})
    finally:
        root.handlers[:] = saved
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "[anycrew] crew 'crew' started with 2 task(s)",
        "[anycrew] task 'step1' started by 'Analyst of x'",
        "[anycrew] task 'step1' finished: Simulated answer to: Step 1: study x",
        "[anycrew] task 'step2' started by 'Analyst of x'",
        "[anycrew] task 'step2' finished: Simulated answer to: Step 2: study x",
        "[anycrew] crew 'crew' finished: Simulated answer to: Step 2: study x",
    ]


def test_kickoff_inside_a_running_loop_works_and_warns_once() -> None:
    import subprocess
    import sys

    code = """
import asyncio, threading, warnings
from anycrew import LLM, Agent, Crew, Task

agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim"))
task = Task(description="inside {where}", expected_output="x", agent=agent)
crew = Crew(agents=[agent], tasks=[task])

async def handler_in_an_async_app():
    return [crew.kickoff({"where": "a loop"}).raw for _ in range(2)]

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    print(asyncio.run(handler_in_an_async_app()))
print(len(caught), caught[0].category.__name__, caught[0].message)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    first, second = result.stdout.splitlines()
    assert first == str(["Simulated answer to: inside a loop"] * 2)
    assert second.startswith("1 RuntimeWarning kickoff() was called from a thread that is running")
    assert "Use 'await akickoff()' instead." in second


_EXIT_IN_A_COPY = """
import sys
import anyio
from anycrew import LLM, Agent, Crew, Task

def responder(messages):
    if "topic 3" in messages[-1]["content"]:
        sys.exit(3)
    return "Final Answer: ok"

agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim", responder=responder))
task = Task(description="Do topic {n}", expected_output="x", agent=agent)
crew = Crew(agents=[agent], tasks=[task])

async def main():
    await crew.akickoff_for_each([{"n": i} for i in range(8)])
    print("not reached")

anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sys_exit_in_a_for_each_copy_exits_the_program(backend: str) -> None:
    """SystemExit is not a copy's failure: it ends the program with its code, as
    it would from a single kickoff, and is not wrapped in an exception group."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _EXIT_IN_A_COPY, backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "not reached" not in done.stdout
    assert "ExceptionGroup" not in done.stderr


async def test_for_each_of_no_inputs_returns_no_outputs(recorder: Recorder) -> None:
    assert await make_crew(1).akickoff_for_each([]) == []
    assert recorder.events == []
