"""Callbacks: task, step, before- and after-kickoff; sync or async, on every entry point."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, ValidationError

from anycrew import LLM, Agent, Crew, CrewOutput, Task, TaskOutput
from anycrew.agents.parser import AgentAction, AgentFinish
from anycrew.errors import CallbackError, InvalidInputError
from anycrew.events import (
    CrewKickoffCancelledEvent,
    CrewKickoffCompletedEvent,
    CrewKickoffFailedEvent,
    CrewKickoffStartedEvent,
    LLMCallStartedEvent,
    TaskFailedEvent,
)
from anycrew.tools import tool

from .conftest import ENTRIES, Recorder, make_crew

entries = pytest.mark.parametrize("entry", list(ENTRIES))
kinds = pytest.mark.parametrize("kind", ["sync", "async"])


def recording(log: list[Any], label: str, kind: str, result: Any = None) -> Callable[..., Any]:
    """A callback that appends (label, argument) to *log*; async ones checkpoint first,
    so an async callback that was called but not awaited records nothing."""
    if kind == "async":

        async def async_callback(value: Any) -> Any:
            await anyio.lowlevel.checkpoint()
            log.append((label, value))
            return result

        return async_callback

    def sync_callback(value: Any) -> Any:
        log.append((label, value))
        return result

    return sync_callback


class CountingLLM:
    """A simulator whose calls are counted as they start."""

    def __init__(self, latency: float = 0.0, **options: Any) -> None:
        self.started = 0
        self.llm = LLM(model="sim", latency=latency, responder=self._respond, **options)

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        self.started += 1
        return f"Final Answer: answer {self.started}"


# -- task callbacks --------------------------------------------------------------------


@pytest.mark.anyio
@entries
@kinds
async def test_task_callback_then_crew_task_callback_for_every_task(
    entry: str, kind: str, recorder: Recorder
) -> None:
    log: list[Any] = []
    other = "sync" if kind == "async" else "async"
    crew = make_crew(2, callback=recording(log, "task", kind))
    crew.task_callback = recording(log, "crew", other)
    await ENTRIES[entry](crew, {"topic": "tides"})
    assert [(label, output.name) for label, output in log] == [
        ("task", "step1"),
        ("crew", "step1"),
        ("task", "step2"),
        ("crew", "step2"),
    ]
    assert all(isinstance(output, TaskOutput) for _, output in log)
    # Each task's callbacks run before it completes.
    completed = [e.task_name for e in recorder.events if e.type == "task_completed"]
    assert completed == ["step1", "step2"]


@pytest.mark.anyio
async def test_one_function_as_task_and_crew_callback_runs_once_per_task() -> None:
    log: list[Any] = []
    callback = recording(log, "both", "async")
    crew = make_crew(2, callback=callback)
    crew.task_callback = callback
    await crew.akickoff({"topic": "t"})
    assert [output.name for _, output in log] == ["step1", "step2"]


@pytest.mark.anyio
async def test_crew_task_callback_alone_sees_async_tasks_too() -> None:
    log: list[Any] = []
    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim"))
    tasks = [
        Task(description="first", expected_output="x", agent=agent, async_execution=True),
        Task(description="second", expected_output="x", agent=agent),
    ]
    crew = Crew(agents=[agent], tasks=tasks, task_callback=recording(log, "crew", "async"))
    await crew.akickoff()
    assert sorted(output.raw for _, output in log) == [
        "Simulated answer to: first",
        "Simulated answer to: second",
    ]


# -- step callbacks --------------------------------------------------------------------


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool("Multiply")
async def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def calculator(native: bool, **agent_options: Any) -> Agent:
    script: list[Any] = [
        [
            {"name": "add", "arguments": {"a": 2, "b": 3}},
            {"name": "Multiply", "arguments": {"a": 4, "b": 5}},
        ],
        "Thought: I have both.\nFinal Answer: 5 and 20",
    ]
    if not native:  # ReAct: one call a turn
        script = [script[0][:1], script[0][1:], script[1]]
    return Agent(
        role="Calculator",
        goal="Compute",
        backstory="Exact.",
        llm=LLM(model="sim", tool_calls=script, native_tools=native),
        tools=[add, multiply],
        **agent_options,
    )


@pytest.mark.anyio
@entries
@kinds
@pytest.mark.parametrize("native", [True, False], ids=["native", "react"])
async def test_step_callback_sees_each_tool_call_and_the_final_answer(
    entry: str, kind: str, native: bool
) -> None:
    log: list[Any] = []
    agent = calculator(native)
    task = Task(description="Add, then multiply", expected_output="Two numbers", agent=agent)
    crew = Crew(agents=[agent], tasks=[task], step_callback=recording(log, "step", kind))
    result = await ENTRIES[entry](crew, None)
    assert result.raw == "5 and 20"
    steps = [step for _, step in log]
    assert [type(step) for step in steps] == [AgentAction, AgentAction, AgentFinish]
    first, second, finish = steps
    assert (first.tool, first.result) == ("add", "5")
    assert '"a": 2' in first.tool_input
    assert (second.tool, second.result) == ("Multiply", "20")
    assert finish.output == "5 and 20"
    assert finish.thought == "I have both."
    assert "Final Answer: 5 and 20" in finish.text
    if not native:
        assert first.thought == "I should use a tool."
        assert "Action: add" in first.text


@pytest.mark.anyio
async def test_step_callback_without_tools_sees_the_final_answer() -> None:
    log: list[Any] = []
    crew = make_crew(1)
    crew.step_callback = recording(log, "step", "async")
    await crew.akickoff({"topic": "moss"})
    [(_, finish)] = log
    assert isinstance(finish, AgentFinish)
    assert finish.output == "Simulated answer to: Step 1: study moss"


@pytest.mark.anyio
async def test_each_corrected_structured_answer_is_a_step_too() -> None:
    class Verdict(BaseModel):
        score: int

    log: list[Any] = []
    llm = LLM(model="sim", replies=["Final Answer: seven", 'Final Answer: {"score": 7}'])
    agent = Agent(role="Judge", goal="Score", backstory="Fair.", llm=llm)
    task = Task(description="Score", expected_output="x", agent=agent, output_pydantic=Verdict)
    crew = Crew(agents=[agent], tasks=[task], step_callback=recording(log, "step", "async"))
    result = await crew.akickoff()
    assert result.pydantic == Verdict(score=7)
    assert [step.output for _, step in log] == ["seven", '{"score": 7}']


@pytest.mark.anyio
async def test_an_agents_own_step_callback_wins_over_the_crews() -> None:
    mine: list[Any] = []
    crews: list[Any] = []
    own = calculator(True, step_callback=recording(mine, "agent", "sync"))
    plain = Agent(role="Plain", goal="g", backstory="b", llm=LLM(model="sim"))
    crew = Crew(
        agents=[own, plain],
        tasks=[
            Task(description="Compute", expected_output="x", agent=own),
            Task(description="Summarise", expected_output="x", agent=plain),
        ],
        step_callback=recording(crews, "crew", "async"),
    )
    await crew.akickoff()
    assert [type(step) for _, step in mine] == [AgentAction, AgentAction, AgentFinish]
    assert [type(step) for _, step in crews] == [AgentFinish]
    assert crews[0][1].output == "Simulated answer to: Summarise"


# -- before and after kickoff ----------------------------------------------------------


@pytest.mark.anyio
@entries
@kinds
async def test_before_kickoff_changes_the_inputs_the_tasks_see(
    entry: str, kind: str, recorder: Recorder
) -> None:
    seen: list[dict[str, Any]] = []

    def add_topic(inputs: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(inputs))
        return {**inputs, "topic": inputs["raw"].strip().lower()}

    async def add_topic_async(inputs: dict[str, Any]) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return add_topic(inputs)

    crew = make_crew(1)  # its task needs {topic}, which only the callback supplies
    crew.before_kickoff_callbacks = [add_topic if kind == "sync" else add_topic_async]
    caller_inputs = {"raw": "  TIDES "}
    result = await ENTRIES[entry](crew, caller_inputs)
    assert result.raw == "Simulated answer to: Step 1: study tides"
    assert seen == [{"raw": "  TIDES "}]
    assert caller_inputs == {"raw": "  TIDES "}  # the caller's dict is left alone
    [started] = recorder.of(CrewKickoffStartedEvent)
    assert started.inputs == {"raw": "  TIDES ", "topic": "tides"}
    assert recorder.events[0] is started  # the callbacks run before the kickoff starts


@pytest.mark.anyio
async def test_before_kickoff_callbacks_chain_and_none_keeps_in_place_changes() -> None:
    def in_place(inputs: dict[str, Any]) -> None:
        inputs["topic"] = "owls"

    async def append(inputs: dict[str, Any]) -> dict[str, Any]:
        return {"topic": inputs["topic"] + " and bees"}

    crew = make_crew(1)
    crew.before_kickoff_callbacks = [in_place, append]
    result = await crew.akickoff()  # no inputs: the first callback gets {}
    assert result.raw == "Simulated answer to: Step 1: study owls and bees"


@pytest.mark.anyio
async def test_bad_inputs_from_before_kickoff_fail_before_any_llm_call(
    recorder: Recorder,
) -> None:
    counter = CountingLLM()
    crew = make_crew(1, llm=counter.llm)
    crew.before_kickoff_callbacks = [lambda inputs: "not a dict"]
    with pytest.raises(CallbackError, match=r"before_kickoff_callbacks\[0\].*returned str"):
        await crew.akickoff({"topic": "t"})
    crew.before_kickoff_callbacks = [lambda inputs: {}]  # drops the needed {topic}
    with pytest.raises(InvalidInputError, match="missing input 'topic'"):
        await crew.akickoff({"topic": "t"})
    assert counter.started == 0
    assert recorder.types == ["crew_kickoff_failed", "crew_kickoff_failed"]


@pytest.mark.anyio
async def test_with_before_kickoff_only_the_shape_of_inputs_is_checked_up_front() -> None:
    crew = make_crew(1)
    crew.before_kickoff_callbacks = [lambda inputs: {**inputs, "topic": "rain"}]
    # kickoff_async plans before it starts its thread; the missing {topic} is fine here.
    assert (await crew.kickoff_async({})).raw == "Simulated answer to: Step 1: study rain"
    with pytest.raises(InvalidInputError, match="must be a dict"):
        await crew.kickoff_async(["not", "a", "dict"])  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_before_kickoff_may_turn_values_into_ones_inputs_can_hold(
    recorder: Recorder,
) -> None:
    when = datetime.date(2026, 11, 22)
    crew = make_crew(1)
    crew.before_kickoff_callbacks = [lambda inputs: {"topic": inputs["day"].isoformat()}]
    result = await crew.kickoff_async({"day": when})
    assert result.raw == "Simulated answer to: Step 1: study 2026-11-22"
    crew.before_kickoff_callbacks = [lambda inputs: {**inputs, "topic": "t"}]  # keeps the date
    with pytest.raises(InvalidInputError, match="input 'day' is a date"):
        await crew.akickoff({"day": when})
    assert recorder.types[-1] == "crew_kickoff_failed"


@pytest.mark.anyio
@entries
@kinds
async def test_after_kickoff_replaces_the_result_and_none_keeps_it(
    entry: str, kind: str, recorder: Recorder
) -> None:
    log: list[Any] = []
    replacement = CrewOutput(raw="replaced")
    crew = make_crew(1)
    crew.after_kickoff_callbacks = [
        recording(log, "keep", kind, result=None),
        recording(log, "replace", kind, result=replacement),
        recording(log, "see", kind, result=None),
    ]
    result = await ENTRIES[entry](crew, {"topic": "t"})
    assert result is replacement
    assert [label for label, _ in log] == ["keep", "replace", "see"]
    assert log[0][1].raw == "Simulated answer to: Step 1: study t"
    assert log[2][1] is replacement
    [completed] = recorder.of(CrewKickoffCompletedEvent)
    assert completed.output.raw == "replaced"


@pytest.mark.anyio
async def test_after_kickoff_returning_something_else_fails_clearly(recorder: Recorder) -> None:
    crew = make_crew(1)
    crew.after_kickoff_callbacks = [lambda output: output.raw]
    with pytest.raises(CallbackError, match=r"after_kickoff_callbacks\[0\].*returned str"):
        await crew.akickoff({"topic": "t"})
    assert recorder.types[-1] == "crew_kickoff_failed"
    assert "crew_kickoff_completed" not in recorder.types


# -- every entry point awaits async callbacks ------------------------------------------


def all_async_callbacks(crew: Crew, log: list[str]) -> Crew:
    async def note(label: str, value: Any) -> Any:
        await anyio.lowlevel.checkpoint()
        log.append(label)
        return value if label == "before" else None

    crew.before_kickoff_callbacks = [partial(note, "before")]
    crew.after_kickoff_callbacks = [partial(note, "after")]
    crew.task_callback = partial(note, "task")
    crew.step_callback = partial(note, "step")
    return crew


EXPECTED_ONE_TASK = ["before", "step", "task", "after"]


@pytest.mark.anyio
async def test_every_entry_gives_the_same_events_with_callbacks(recorder: Recorder) -> None:
    seen = {}
    for name, entry in ENTRIES.items():
        log: list[str] = []
        recorder.events.clear()
        crew = all_async_callbacks(make_crew(2), log)
        result = await entry(crew, {"topic": "t"})
        seen[name] = (result.raw, log, recorder.types)
    assert seen["akickoff"][1] == ["before", "step", "task", "step", "task", "after"]
    assert seen["kickoff"] == seen["akickoff"]
    assert seen["kickoff_async"] == seen["akickoff"]


def test_sync_kickoff_awaits_async_callbacks() -> None:
    log: list[str] = []
    crew = all_async_callbacks(make_crew(1), log)
    result = crew.kickoff({"topic": "t"})
    assert isinstance(result, CrewOutput)
    assert log == EXPECTED_ONE_TASK


@pytest.mark.anyio
async def test_for_each_entries_await_async_callbacks() -> None:
    inputs = [{"topic": f"t{i}"} for i in range(3)]
    log: list[str] = []
    crew = all_async_callbacks(make_crew(1), log)
    await crew.akickoff_for_each(inputs, max_concurrency=2)
    await crew.kickoff_for_each_async(inputs)
    await anyio.to_thread.run_sync(crew.kickoff_for_each, inputs)
    assert sorted(log) == sorted(EXPECTED_ONE_TASK * 9)
    assert log.count("before") == 9


@pytest.mark.anyio
async def test_streaming_entries_await_async_callbacks() -> None:
    log: list[str] = []
    crew = all_async_callbacks(make_crew(1, llm=LLM(model="sim", stream=True)), log)
    crew.stream = True
    streaming = await crew.akickoff({"topic": "t"})
    text = "".join([chunk.content async for chunk in streaming])
    assert text
    assert streaming.result.raw == "Simulated answer to: Step 1: study t"
    assert log == EXPECTED_ONE_TASK
    crew.stream = False
    log.clear()
    async with crew.astream({"topic": "t"}) as stream:
        types = [frame.type async for frame in stream]
    assert types[0] == "crew_kickoff_started"
    assert types[-1] == "crew_kickoff_completed"
    assert log == EXPECTED_ONE_TASK
    log.clear()
    with crew.stream_events({"topic": "t"}) as session:
        assert [frame.type for frame in session][-1] == "crew_kickoff_completed"
    assert log == EXPECTED_ONE_TASK


# -- sync callbacks run off the loop and may nest kickoffs -----------------------------


@pytest.mark.anyio
async def test_a_blocking_sync_callback_does_not_stall_the_loop() -> None:
    entered = threading.Event()
    release = threading.Event()
    released: list[bool] = []

    def blocking(output: TaskOutput) -> None:
        entered.set()
        released.append(release.wait(10))  # set by the loop, which must stay free

    crew = make_crew(1)
    crew.task_callback = blocking
    async with anyio.create_task_group() as tg:
        tg.start_soon(crew.akickoff, {"topic": "t"})
        await anyio.to_thread.run_sync(entered.wait, 10)
        release.set()
    assert released == [True]


@pytest.mark.anyio
async def test_a_sync_before_kickoff_callback_can_kick_off_another_crew(
    recorder: Recorder,
) -> None:
    inner = make_crew(1, name="inner")

    def from_inner(inputs: dict[str, Any]) -> dict[str, Any]:
        answer = inner.kickoff({"topic": "owls"})  # nests in the outer run's loop
        return {"topic": answer.raw.rsplit(" ", 1)[-1] + " again"}

    outer = make_crew(1, name="outer")
    outer.before_kickoff_callbacks = [from_inner]
    result = await outer.akickoff()
    assert result.raw == "Simulated answer to: Step 1: study owls again"
    names = [e.crew_name for e in recorder.of(CrewKickoffStartedEvent)]
    assert names == ["inner", "outer"]


# -- a callback that raises fails the kickoff; nothing keeps running -------------------


def raising_kinds() -> list[str]:
    return ["task.callback", "task_callback", "step_callback", "before", "after"]


def configure(crew: Crew, kind: str, callback: Callable[..., Any]) -> Crew:
    if kind == "task.callback":
        crew.tasks[0].callback = callback
    elif kind == "task_callback":
        crew.task_callback = callback
    elif kind == "step_callback":
        crew.step_callback = callback
    elif kind == "before":
        crew.before_kickoff_callbacks = [callback]
    else:
        crew.after_kickoff_callbacks = [callback]
    return crew


@pytest.mark.anyio
@entries
@kinds
@pytest.mark.parametrize("where", raising_kinds())
async def test_a_raising_callback_fails_the_kickoff_with_its_error(
    entry: str, kind: str, where: str, recorder: Recorder
) -> None:
    def boom(value: Any) -> None:
        raise LookupError(f"boom from {where}")

    async def boom_async(value: Any) -> None:
        await anyio.lowlevel.checkpoint()
        boom(value)

    counter = CountingLLM()
    crew = configure(make_crew(2, llm=counter.llm), where, boom if kind == "sync" else boom_async)
    with pytest.raises(LookupError, match=f"boom from {where}"):
        await ENTRIES[entry](crew, {"topic": "t"})
    assert recorder.types[-1] == "crew_kickoff_failed"
    [failed] = recorder.of(CrewKickoffFailedEvent)
    assert failed.error == f"LookupError: boom from {where}"
    # Nothing ran past the failure: the second task never called its model.
    expected_calls = {"before": 0, "after": 2}.get(where, 1)
    assert counter.started == expected_calls
    assert len(recorder.of(LLMCallStartedEvent)) == expected_calls
    if where in ("task.callback", "task_callback", "step_callback"):
        assert [e.task_name for e in recorder.of(TaskFailedEvent)] == ["step1"]


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
@pytest.mark.parametrize("where", raising_kinds())
async def test_cancelling_while_an_async_callback_awaits_stops_everything(
    entry: str, where: str, recorder: Recorder
) -> None:
    entered = threading.Event()
    finished: list[str] = []

    async def hang(value: Any) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            finished.append("cancelled")

    counter = CountingLLM()
    crew = configure(make_crew(2, llm=counter.llm), where, hang)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ENTRIES[entry], crew, {"topic": "t"})
        await anyio.to_thread.run_sync(entered.wait, 10)
        calls_at_cancel = counter.started
        tg.cancel_scope.cancel()
    assert finished == ["cancelled"]  # the callback itself was cancelled
    assert counter.started == calls_at_cancel  # no model call started after the cancel
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    assert len(recorder.of(CrewKickoffCancelledEvent)) == 1
    assert "crew_kickoff_completed" not in recorder.types


# -- validation at construction --------------------------------------------------------


def test_callbacks_are_checked_when_the_crew_is_built() -> None:
    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim"))
    task = Task(description="d", expected_output="e", agent=agent)
    build = partial(Crew, agents=[agent], tasks=[task])
    with pytest.raises(ValidationError, match="Crew task_callback must be a function"):
        build(task_callback="print")

    def two(a: Any, b: Any) -> None: ...

    with pytest.raises(ValidationError, match=r"Crew step_callback 'two' must accept one"):
        build(step_callback=two)
    with pytest.raises(ValidationError, match="wrap a single function in a list"):
        build(before_kickoff_callbacks=lambda inputs: inputs)
    with pytest.raises(ValidationError, match=r"after_kickoff_callbacks\[1\] must be a function"):
        build(after_kickoff_callbacks=[lambda output: None, 42])
    with pytest.raises(ValidationError, match=r"Task callback '<lambda>' must accept one"):
        Task(description="d", expected_output="e", agent=agent, callback=lambda: None)
    with pytest.raises(ValidationError, match="Agent step_callback must be a function"):
        Agent(role="r", goal="g", backstory="b", step_callback=3)
    # Optional extra parameters, *args and callable objects are fine.
    build(task_callback=lambda output, extra=None: None, step_callback=print)
    build(before_kickoff_callbacks=[lambda *args: None], after_kickoff_callbacks=[])
