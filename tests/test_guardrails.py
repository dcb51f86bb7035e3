"""Task guardrails: checks, retries with the failure message, LLM guardrails, events."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, ValidationError

import anycrew
from anycrew import LLM, Agent, Crew, CrewOutput, Task, TaskOutput
from anycrew.errors import GuardrailError, GuardrailResultError
from anycrew.events import (
    AgentExecutionStartedEvent,
    LLMCallStartedEvent,
    LLMGuardrailCompletedEvent,
    LLMGuardrailStartedEvent,
    TaskFailedEvent,
    TaskStartedEvent,
)
from anycrew.tasks.llm_guardrail import LLMGuardrail

from .conftest import Recorder, warm_thread_pools

pytestmark = pytest.mark.anyio

RETRY_MARK = "did not pass a check"
PREVIOUS = re.compile(r"Your previous answer was:\n(.*)\n")


def scripted(*answers: str) -> LLM:
    """A simulator whose n-th call in a run answers answers[n] (the last one repeats).

    The step is read from the conversation (the rejected answer a retry prompt
    quotes), so every run of the same crew follows the script from the start.
    """

    def respond(messages: list[dict[str, Any]]) -> str:
        previous = PREVIOUS.search(str(messages[-1]["content"]))
        step = answers.index(previous.group(1)) + 1 if previous else 0
        return f"Final Answer: {answers[min(step, len(answers) - 1)]}"

    return LLM(model="sim", responder=respond)


def crew_of(llm: LLM, **task_kwargs: Any) -> Crew:
    agent = Agent(role="Writer", goal="Write", backstory="Careful.", llm=llm)
    task = Task(description="Write a line", expected_output="A line", agent=agent, **task_kwargs)
    return Crew(agents=[agent], tasks=[task])


def min_length(limit: int) -> Callable[[TaskOutput], tuple[bool, Any]]:
    def long_enough(output: TaskOutput) -> tuple[bool, Any]:
        if len(output.raw) < limit:
            return False, f"too short: {len(output.raw)} characters, need {limit}"
        return True, output.raw

    return long_enough


def checks(recorder: Recorder) -> list[tuple[int | None, int, bool]]:
    """(guardrail_index, retry_count, success) of each completed check, in order."""
    return [
        (e.guardrail_index, e.retry_count, e.success)
        for e in recorder.of(LLMGuardrailCompletedEvent)
    ]


def user_prompts(recorder: Recorder) -> list[str]:
    return [str(e.messages[-1]["content"]) for e in recorder.of(LLMCallStartedEvent)]


async def test_a_passing_guardrail_keeps_the_output(recorder: Recorder) -> None:
    result = await crew_of(scripted("a long enough line"), guardrail=min_length(5)).akickoff()
    assert result.raw == "a long enough line"
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    (started,) = recorder.of(LLMGuardrailStartedEvent)
    assert (started.guardrail, started.guardrail_type, started.retry_count) == (
        "long_enough",
        "function",
        0,
    )
    (completed,) = recorder.of(LLMGuardrailCompletedEvent)
    assert (completed.success, completed.result, completed.error) == (
        True,
        "a long enough line",
        None,
    )
    assert completed.started_event_id == started.event_id
    assert started.task_name == "Write a line"
    # Checks happen inside the task, after the agent's answer, before it completes.
    assert recorder.types[-4:] == [
        "llm_guardrail_started",
        "llm_guardrail_completed",
        "task_completed",
        "crew_kickoff_completed",
    ]


async def test_a_failing_guardrail_sends_the_agent_back_with_its_message(
    recorder: Recorder,
) -> None:
    crew = crew_of(scripted("short", "a much longer answer"), guardrail=min_length(10))
    result = await crew.akickoff()
    assert result.raw == "a much longer answer"
    first, second = user_prompts(recorder)
    assert RETRY_MARK not in first
    # The second attempt sees the failure message and the rejected answer.
    assert "too short: 5 characters, need 10" in second
    assert "Your previous answer was:\nshort" in second
    assert checks(recorder) == [(0, 0, False), (0, 1, True)]
    failed = recorder.of(LLMGuardrailCompletedEvent)[0]
    assert failed.error == "too short: 5 characters, need 10"
    assert failed.result is None
    # Each attempt is an agent execution of its own, inside the one task.
    assert len(recorder.of(TaskStartedEvent)) == 1
    (task_started,) = recorder.of(TaskStartedEvent)
    attempts = recorder.of(AgentExecutionStartedEvent)
    assert len(attempts) == 2
    assert {a.parent_event_id for a in attempts} == {task_started.event_id}


async def test_exhausted_retries_raise_a_guardrail_error(recorder: Recorder) -> None:
    def never(output: TaskOutput) -> tuple[bool, Any]:
        return False, f"not good enough: {output.raw}"

    crew = crew_of(
        scripted("one", "two", "three", "four"), guardrail=never, guardrail_max_retries=2
    )
    with pytest.raises(GuardrailError) as info:
        await crew.akickoff()
    error = info.value
    assert (error.task_name, error.guardrail, error.retries) == ("Write a line", "never", 2)
    assert error.last_error == "not good enough: three"
    assert "'never'" in str(error)
    assert "after 2 retries" in str(error)
    assert len(recorder.of(LLMCallStartedEvent)) == 3  # the answer and two retries
    assert checks(recorder) == [(0, 0, False), (0, 1, False), (0, 2, False)]
    assert recorder.types[-2:] == ["task_failed", "crew_kickoff_failed"]
    assert recorder.of(TaskFailedEvent)[0].error.startswith("GuardrailError: ")


async def test_zero_retries_fail_on_the_first_rejection(recorder: Recorder) -> None:
    crew = crew_of(scripted("short"), guardrail=min_length(10), guardrail_max_retries=0)
    with pytest.raises(GuardrailError, match="after 0 retries"):
        await crew.akickoff()
    assert len(recorder.of(LLMCallStartedEvent)) == 1


async def test_guardrails_run_in_order_with_their_own_retry_counts(recorder: Recorder) -> None:
    def has_alpha(output: TaskOutput) -> tuple[bool, Any]:
        return ("alpha" in output.raw, output.raw if "alpha" in output.raw else "say alpha")

    def has_beta(output: TaskOutput) -> tuple[bool, Any]:
        return ("beta" in output.raw, output.raw if "beta" in output.raw else "say beta")

    crew = crew_of(scripted("nothing", "alpha", "alpha beta"), guardrails=[has_alpha, has_beta])
    result = await crew.akickoff()
    assert result.raw == "alpha beta"
    # A retry's answer is checked from the first guardrail again; each guardrail
    # counts its own retries.
    assert checks(recorder) == [
        (0, 0, False),
        (0, 1, True),
        (1, 0, False),
        (0, 1, True),
        (1, 1, True),
    ]
    names = [e.guardrail_name for e in recorder.of(LLMGuardrailStartedEvent)]
    assert names == ["has_alpha", "has_alpha", "has_beta", "has_alpha", "has_beta"]


async def test_the_error_names_the_guardrail_that_ran_out(recorder: Recorder) -> None:
    def anything(output: TaskOutput) -> tuple[bool, Any]:
        return True, output.raw

    def never(output: TaskOutput) -> tuple[bool, Any]:
        return False, "no"

    crew = crew_of(scripted("x"), guardrails=[anything, never], guardrail_max_retries=1)
    with pytest.raises(GuardrailError) as info:
        await crew.akickoff()
    assert (info.value.guardrail, info.value.retries, info.value.last_error) == ("never", 1, "no")
    assert checks(recorder) == [(0, 0, True), (1, 0, False), (0, 0, True), (1, 1, False)]


async def test_async_and_sync_guardrails(recorder: Recorder) -> None:
    loop_thread = threading.get_ident()
    threads: dict[str, int] = {}

    async def async_check(output: TaskOutput) -> tuple[bool, Any]:
        threads["async"] = threading.get_ident()
        await anyio.lowlevel.checkpoint()
        return True, output.raw.upper()

    def sync_check(output: TaskOutput) -> tuple[bool, Any]:
        threads["sync"] = threading.get_ident()
        return True, output.raw + "!"

    crew = crew_of(scripted("calm"), guardrails=[async_check, sync_check])
    result = await crew.akickoff()
    assert result.raw == "CALM!"
    # Async guardrails are awaited on the loop; sync ones never block it.
    assert threads["async"] == loop_thread
    assert threads["sync"] != loop_thread
    assert checks(recorder) == [(0, 0, True), (1, 0, True)]


class Summary(BaseModel):
    title: str


async def test_what_a_passing_guardrail_returns_shapes_the_output() -> None:
    def replace_text(output: TaskOutput) -> tuple[bool, Any]:
        return True, "replaced"

    def replace_output(output: TaskOutput) -> tuple[bool, Any]:
        return True, TaskOutput(description="mine", raw="a whole new output", agent="me")

    def keep(output: TaskOutput) -> tuple[bool, Any]:
        return True, 42

    result = await crew_of(scripted("original"), guardrail=replace_text).akickoff()
    assert result.raw == "replaced"
    result = await crew_of(scripted("original"), guardrail=replace_output).akickoff()
    assert (result.raw, result.tasks_output[0].agent) == ("a whole new output", "me")
    result = await crew_of(scripted("original"), guardrail=keep).akickoff()
    assert result.raw == "original"


async def test_replacement_text_is_parsed_for_a_structured_task() -> None:
    def retitle(output: TaskOutput) -> tuple[bool, Any]:
        assert isinstance(output.pydantic, Summary)
        return True, Summary(title=output.pydantic.title.title()).model_dump_json()

    crew = crew_of(scripted('{"title": "quiet seas"}'), guardrail=retitle, output_pydantic=Summary)
    result = await crew.akickoff()
    assert result.pydantic == Summary(title="Quiet Seas")
    assert result.raw == '{"title":"Quiet Seas"}'


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ((True, None), "returned \\(True, None\\)"),
        ("yes", "returned 'yes'"),
        ((1, "x"), "returned \\(1, 'x'\\)"),
    ],
)
async def test_an_unusable_return_is_a_clear_error(
    returned: Any, message: str, recorder: Recorder
) -> None:
    def odd(output: TaskOutput) -> Any:
        return returned

    with pytest.raises(GuardrailResultError, match=message):
        await crew_of(scripted("x"), guardrail=odd).akickoff()
    assert recorder.types[-2:] == ["task_failed", "crew_kickoff_failed"]


async def test_a_raising_guardrail_fails_the_task_with_its_error(recorder: Recorder) -> None:
    class CheckerBroke(Exception):
        pass

    def broken(output: TaskOutput) -> tuple[bool, Any]:
        raise CheckerBroke("kaboom")

    with pytest.raises(CheckerBroke, match="kaboom"):
        await crew_of(scripted("x"), guardrail=broken).akickoff()
    (completed,) = recorder.of(LLMGuardrailCompletedEvent)
    assert (completed.success, completed.error) == (False, "CheckerBroke: kaboom")
    assert recorder.types[-3:] == ["llm_guardrail_completed", "task_failed", "crew_kickoff_failed"]
    assert recorder.of(TaskFailedEvent)[0].error == "CheckerBroke: kaboom"
    assert len(recorder.of(LLMCallStartedEvent)) == 1  # no retry after an error


# -- LLM guardrails -------------------------------------------------------------------


def judged(answers: Sequence[str], verdicts: Sequence[str]) -> tuple[LLM, list[str]]:
    """A simulator that answers tasks from *answers* and guardrail checks from *verdicts*."""
    seen: list[str] = []

    def respond(messages: list[dict[str, Any]]) -> str:
        if str(messages[0]["content"]).startswith("You review the result of a task"):
            seen.append("verdict")
            return verdicts[min(seen.count("verdict") - 1, len(verdicts) - 1)]
        seen.append("answer")
        return f"Final Answer: {answers[min(seen.count('answer') - 1, len(answers) - 1)]}"

    return LLM(model="sim", responder=respond), seen


async def test_a_string_guardrail_is_judged_by_the_agents_llm(recorder: Recorder) -> None:
    llm, seen = judged(
        ["the hills are green", "the sea is blue"],
        ['{"valid": false, "feedback": "it must mention the sea"}', '{"valid": true}'],
    )
    result = await crew_of(llm, guardrail="The answer mentions the sea").akickoff()
    assert result.raw == "the sea is blue"
    assert seen == ["answer", "verdict", "answer", "verdict"]
    assert checks(recorder) == [(0, 0, False), (0, 1, True)]
    started = recorder.of(LLMGuardrailStartedEvent)
    assert {(e.guardrail, e.guardrail_type) for e in started} == {
        ("The answer mentions the sea", "llm")
    }
    assert recorder.of(LLMGuardrailCompletedEvent)[0].error == "it must mention the sea"
    prompts = user_prompts(recorder)
    # The judge sees the requirement and the answer; the retry sees the feedback.
    assert "The answer mentions the sea" in prompts[1]
    assert "the hills are green" in prompts[1]
    assert "it must mention the sea" in prompts[2]
    # The judge's LLM call nests inside its guardrail check.
    judge_call = recorder.of(LLMCallStartedEvent)[1]
    assert judge_call.parent_event_id == started[0].event_id


async def test_an_unreadable_verdict_fails_the_check_and_says_so(recorder: Recorder) -> None:
    llm, _ = judged(["an answer"], ["I think it is fine"])
    crew = crew_of(llm, guardrails=[LLMGuardrail("Be polite")], guardrail_max_retries=0)
    with pytest.raises(GuardrailError, match="verdict could not be read"):
        await crew.akickoff()


async def test_an_llm_guardrail_can_have_its_own_llm(recorder: Recorder) -> None:
    judge, seen = judged([], ['{"valid": true}'])
    crew = crew_of(scripted("fine"), guardrails=[LLMGuardrail("Be short", llm=judge)])
    result = await crew.akickoff()
    assert result.raw == "fine"
    assert seen == ["verdict"]


# -- cancellation -----------------------------------------------------------------------


async def test_cancel_during_a_guardrail_retry_stops_everything(recorder: Recorder) -> None:
    calls = 0
    retrying = anyio.Event()

    async def respond(messages: list[dict[str, Any]]) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            return "Final Answer: short"
        retrying.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    crew = crew_of(LLM(model="sim", responder=respond), guardrail=min_length(10))
    async with anyio.create_task_group() as tg:
        tg.start_soon(crew.akickoff)
        await retrying.wait()
        tg.cancel_scope.cancel()
    assert calls == 2
    assert len(recorder.of(LLMCallStartedEvent)) == 2
    assert checks(recorder) == [(0, 0, False)]  # the retry's answer was never checked
    assert recorder.types[-3:] == [
        "agent_execution_cancelled",
        "task_cancelled",
        "crew_kickoff_cancelled",
    ]


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancel_while_a_sync_guardrail_runs(entry: str, recorder: Recorder) -> None:
    entered = threading.Event()
    progress: list[int] = []

    def slow_check(output: TaskOutput) -> tuple[bool, Any]:
        entered.set()
        for step in range(500):
            anycrew.checkpoint()
            progress.append(step)
            threading.Event().wait(0.01)
        return True, output.raw

    crew = crew_of(scripted("x"), guardrail=slow_check)
    await warm_thread_pools()
    async with anyio.create_task_group() as tg:
        tg.start_soon(getattr(crew, entry))
        assert await anyio.to_thread.run_sync(entered.wait, 10)
        tg.cancel_scope.cancel()
    steps = len(progress)
    assert 0 < steps < 500
    await anyio.to_thread.run_sync(threading.Event().wait, 0.05)
    assert len(progress) == steps  # the guardrail stopped with the run
    assert recorder.types[-2:] == ["task_cancelled", "crew_kickoff_cancelled"]
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert recorder.of(LLMGuardrailCompletedEvent) == []


# -- construction -----------------------------------------------------------------------


def _two(output: TaskOutput, extra: int) -> tuple[bool, Any]:
    return True, output.raw


def _none() -> tuple[bool, Any]:
    return True, ""


def _keyword(output: TaskOutput, *, strict: bool) -> tuple[bool, Any]:
    return True, output.raw


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"guardrail": _two}, "guardrail '_two' must take exactly one parameter"),
        ({"guardrail": _none}, "guardrail '_none' must take exactly one parameter"),
        ({"guardrails": [_keyword]}, "its required parameters are: output, strict"),
        ({"guardrails": [min_length(3), 42]}, "guardrail 1 is 42"),
        ({"guardrail": min_length(3), "guardrails": [min_length(4)]}, "sets both guardrail"),
        ({"guardrail": "   "}, "non-empty description"),
        ({"guardrail_max_retries": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_guardrails_fail_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        Task(description="Audit", expected_output="x", name="audit", **kwargs)
    if "guardrail_max_retries" not in kwargs:
        assert "task 'audit'" in str(info.value) or "description" in str(info.value)


def test_guardrails_accepted_at_construction() -> None:
    def optional_extra(output: TaskOutput, strict: bool = True) -> tuple[bool, Any]:
        return True, output.raw

    task = Task(
        description="d",
        expected_output="e",
        guardrails=[optional_extra, "Be kind", LLMGuardrail("Be brief")],
    )
    assert [(c.index, c.name, c.kind) for c in task.guardrail_checks] == [
        (0, "optional_extra", "function"),
        (1, "Be kind", "llm"),
        (2, "Be brief", "llm"),
    ]
    assert Task(description="d", expected_output="e").guardrail_max_retries == 3


def test_max_retries_is_crewais_deprecated_alias() -> None:
    with pytest.warns(DeprecationWarning, match="guardrail_max_retries"):
        task = Task(description="d", expected_output="e", max_retries=5)
    assert task.guardrail_max_retries == 5


# -- parity ---------------------------------------------------------------------------


async def test_a_guardrail_retry_is_the_same_on_every_entry(recorder: Recorder) -> None:
    async def via_kickoff(crew: Crew) -> Any:
        return await anyio.to_thread.run_sync(crew.kickoff)

    async def via_akickoff(crew: Crew) -> Any:
        return await crew.akickoff()

    async def via_kickoff_async(crew: Crew) -> Any:
        return await crew.kickoff_async()

    seen = {}
    for name, entry in {
        "akickoff": via_akickoff,
        "kickoff": via_kickoff,
        "kickoff_async": via_kickoff_async,
    }.items():
        recorder.events.clear()
        crew = crew_of(scripted("short", "long enough now"), guardrail=min_length(10))
        output = await entry(crew)
        assert isinstance(output, CrewOutput), name
        seen[name] = (output.raw, recorder.types, checks(recorder), user_prompts(recorder))
    reference = seen["akickoff"]
    assert reference[0] == "long enough now"
    assert reference[2] == [(0, 0, False), (0, 1, True)]
    for name, observed in seen.items():
        assert observed == reference, name


# -- streaming and concurrent runs ------------------------------------------------------


async def test_guardrail_events_stream_on_the_lifecycle_channel() -> None:
    crew = crew_of(scripted("short", "long enough now"), guardrail=min_length(10))
    async with crew.astream() as stream:
        lifecycle = [frame.type async for frame in stream.interleave(["lifecycle"])]
    assert stream.result.raw == "long enough now"
    guardrail_frames = [t for t in lifecycle if t.startswith("llm_guardrail")]
    assert guardrail_frames == ["llm_guardrail_started", "llm_guardrail_completed"] * 2


async def test_concurrent_runs_count_their_retries_apart(recorder: Recorder) -> None:
    crew = crew_of(scripted("short", "long enough now"), guardrail=min_length(10))
    results = await crew.akickoff_for_each([{}, {}, {}])
    assert [r.raw for r in results] == ["long enough now"] * 3
    by_run: dict[str | None, list[int]] = {}
    for event in recorder.of(LLMGuardrailCompletedEvent):
        by_run.setdefault(event.run_id, []).append(event.retry_count)
    assert sorted(by_run.values()) == [[0, 1]] * 3
