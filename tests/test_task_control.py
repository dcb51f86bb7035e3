"""ConditionalTask, the crew's rules for async and conditional tasks, and human input."""

from __future__ import annotations

import importlib
import inspect
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from anycrew import LLM, Agent, Crew, CrewOutput, Task, TaskOutput
from anycrew.events import (
    LLMCallStartedEvent,
    LLMGuardrailCompletedEvent,
    TaskFailedEvent,
    TaskSkippedEvent,
    TaskStartedEvent,
)
from anycrew.human_input import (
    MAX_FEEDBACK_ROUNDS,
    ConsoleInput,
    HumanFeedbackRequest,
    current_provider,
    set_provider,
    use_provider,
)
from anycrew.tasks.conditional_task import ConditionalTask

from .conftest import Recorder, settle_threads, warm_thread_pools

pytestmark = pytest.mark.anyio


def echo_llm() -> LLM:
    """Answers with the first line of the task's prompt (after 'Current Task: ')."""

    def respond(messages: list[dict[str, Any]]) -> str:
        first = str(messages[-1]["content"]).splitlines()[0]
        return f"Final Answer: {first.removeprefix('Current Task: ')}"

    return LLM(model="sim", responder=respond)


@pytest.fixture
def agent() -> Agent:
    return Agent(role="Clerk", goal="File", backstory="Tidy.", llm=echo_llm())


def task(agent: Agent, description: str, **kwargs: Any) -> Task:
    return Task(description=description, expected_output="A line", agent=agent, **kwargs)


def llm_prompts(recorder: Recorder) -> list[str]:
    return [str(e.messages[-1]["content"]) for e in recorder.of(LLMCallStartedEvent)]


# -- ConditionalTask --------------------------------------------------------------------


async def test_a_false_condition_skips_the_task(agent: Agent, recorder: Recorder) -> None:
    seen: list[TaskOutput] = []

    def wants_yes(previous: TaskOutput) -> bool:
        seen.append(previous)
        return "yes" in previous.raw

    first = task(agent, "say no", name="first")
    maybe = ConditionalTask(
        description="follow up", expected_output="x", agent=agent, condition=wants_yes, name="maybe"
    )
    last = task(agent, "wrap up", name="last")
    result = await Crew(agents=[agent], tasks=[first, maybe, last]).akickoff()

    assert [o.raw for o in seen] == ["say no"]
    assert [o.raw for o in result.tasks_output] == ["say no", "", "wrap up"]
    skipped = result.tasks_output[1]
    assert (skipped.description, skipped.agent, skipped.name) == ("follow up", "Clerk", "maybe")
    assert maybe.output == skipped
    (event,) = recorder.of(TaskSkippedEvent)
    assert (event.task_name, event.output) == ("maybe", skipped)
    assert [e.task_name for e in recorder.of(TaskStartedEvent)] == ["first", "last"]
    assert len(recorder.of(LLMCallStartedEvent)) == 2
    # The skipped task adds nothing to the next task's context.
    assert "Context from earlier tasks:\nsay no\n" in llm_prompts(recorder)[1]


async def test_a_true_condition_runs_the_task(agent: Agent, recorder: Recorder) -> None:
    async def wants_yes(previous: TaskOutput) -> bool:  # async conditions are awaited
        await anyio.lowlevel.checkpoint()
        return "yes" in previous.raw

    tasks = [
        task(agent, "say yes"),
        ConditionalTask(
            description="follow up", expected_output="x", agent=agent, condition=wants_yes
        ),
    ]
    result = await Crew(agents=[agent], tasks=tasks).akickoff()
    assert [o.raw for o in result.tasks_output] == ["say yes", "follow up"]
    assert recorder.of(TaskSkippedEvent) == []


async def test_a_skipped_last_task_leaves_the_last_real_output_as_the_result(
    agent: Agent,
) -> None:
    tasks = [
        task(agent, "the answer"),
        ConditionalTask(
            description="never", expected_output="x", agent=agent, condition=lambda o: False
        ),
    ]
    result = await Crew(agents=[agent], tasks=tasks).akickoff()
    assert result.raw == "the answer"
    assert [o.raw for o in result.tasks_output] == ["the answer", ""]


async def test_a_condition_waits_for_the_async_task_before_it(agent: Agent) -> None:
    seen: list[str] = []

    def record(previous: TaskOutput) -> bool:
        seen.append(previous.raw)
        return True

    tasks = [
        task(agent, "in the background", async_execution=True),
        ConditionalTask(
            description="then this", expected_output="x", agent=agent, condition=record
        ),
    ]
    result = await Crew(agents=[agent], tasks=tasks).akickoff()
    assert seen == ["in the background"]
    assert result.raw == "then this"


async def test_a_raising_condition_fails_the_crew(agent: Agent, recorder: Recorder) -> None:
    def broken(previous: TaskOutput) -> bool:
        raise LookupError("no such rule")

    tasks = [
        task(agent, "first"),
        ConditionalTask(description="second", expected_output="x", agent=agent, condition=broken),
    ]
    with pytest.raises(LookupError, match="no such rule") as raised:
        await Crew(agents=[agent], tasks=tasks).akickoff()
    assert raised.value.__notes__ == ["raised by the condition of task 'second'"]
    assert recorder.types[-2:] == ["task_failed", "crew_kickoff_failed"]
    (failed,) = recorder.of(TaskFailedEvent)
    assert failed.task_name == "second"


async def test_cancel_while_a_condition_is_pending(agent: Agent, recorder: Recorder) -> None:
    deciding = anyio.Event()

    async def slow(previous: TaskOutput) -> bool:
        deciding.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    tasks = [
        task(agent, "first"),
        ConditionalTask(description="second", expected_output="x", agent=agent, condition=slow),
        task(agent, "third"),
    ]
    crew = Crew(agents=[agent], tasks=tasks)
    async with anyio.create_task_group() as tg:
        tg.start_soon(crew.akickoff)
        await deciding.wait()
        tg.cancel_scope.cancel()
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    assert recorder.of(TaskSkippedEvent) == []


def test_conditional_task_construction_errors() -> None:
    with pytest.raises(ValidationError, match="needs condition=fn"):
        ConditionalTask(description="d", expected_output="e")
    with pytest.raises(ValidationError, match="must take exactly one parameter"):
        ConditionalTask(description="d", expected_output="e", condition=lambda a, b: True)


def test_should_execute_runs_sync_conditions(agent: Agent) -> None:
    conditional = ConditionalTask(
        description="d", expected_output="e", agent=agent, condition=lambda o: o.raw == "go"
    )
    assert conditional.should_execute(TaskOutput(description="x", raw="go"))
    assert not conditional.should_execute(TaskOutput(description="x", raw="stop"))


def test_the_crewai_import_path() -> None:
    import anycrew.tasks.conditional_task as module

    assert module.ConditionalTask is ConditionalTask
    assert ConditionalTask.__doc__


# -- the crew's rules ---------------------------------------------------------------------


def crew_with(*tasks: Task) -> Crew:
    agents = list({id(t.agent): t.agent for t in tasks if t.agent is not None}.values())
    return Crew(agents=agents, tasks=list(tasks))


def test_a_conditional_task_cannot_come_first(agent: Agent) -> None:
    first = ConditionalTask(description="gate", expected_output="x", agent=agent, condition=bool)
    with pytest.raises(ValidationError, match="the first task \\('gate'\\) is a ConditionalTask"):
        crew_with(first, task(agent, "next"))


def test_a_conditional_task_cannot_be_async(agent: Agent) -> None:
    gate = ConditionalTask(
        description="gate", expected_output="x", agent=agent, condition=bool, async_execution=True
    )
    with pytest.raises(ValidationError, match="conditional task 1 \\('gate'\\) is async"):
        crew_with(task(agent, "first"), gate, task(agent, "last"))


def test_a_crew_ends_with_at_most_one_async_task(agent: Agent) -> None:
    a = task(agent, "a", async_execution=True)
    b = task(agent, "b", async_execution=True)
    with pytest.raises(
        ValidationError, match="ends with 2 async tasks; it may end with at most one"
    ):
        crew_with(task(agent, "first"), a, b)
    crew_with(task(agent, "first"), task(agent, "a", async_execution=True))  # one is fine
    crew_with(a, b, task(agent, "join"))  # async tasks followed by a synchronous one


def test_an_async_task_cannot_take_context_from_an_async_task_beside_it(agent: Agent) -> None:
    a = task(agent, "a", async_execution=True)
    b = task(agent, "b", async_execution=True, context=[a])
    with pytest.raises(ValidationError, match="async task 1 \\('b'\\) lists async task 'a'"):
        crew_with(a, b, task(agent, "join"))
    # With a synchronous task between them, the first is finished before the second starts.
    c = task(agent, "c", async_execution=True, context=[a])
    crew_with(a, task(agent, "sync"), c, task(agent, "join"))


def test_context_cannot_name_a_later_task(agent: Agent) -> None:
    later = task(agent, "later")
    with pytest.raises(ValidationError, match="does not come earlier in this crew"):
        crew_with(task(agent, "early", context=[later]), later)


async def test_async_context_across_a_sync_task_runs(agent: Agent) -> None:
    a = task(agent, "alpha", async_execution=True)
    c = task(agent, "gamma", async_execution=True, context=[a])
    result = await crew_with(
        a, task(agent, "beta"), c, task(agent, "delta", context=[c])
    ).akickoff()
    assert [o.raw for o in result.tasks_output] == ["alpha", "beta", "gamma", "delta"]


# -- human input --------------------------------------------------------------------------


class Reviewer:
    """A test provider: answers with scripted feedback and records what it saw."""

    def __init__(self, *feedback: str | None) -> None:
        self.feedback = list(feedback)
        self.requests: list[HumanFeedbackRequest] = []
        self.threads: set[int] = set()

    def __call__(self, request: HumanFeedbackRequest) -> str | None:
        self.requests.append(request)
        self.threads.add(threading.get_ident())
        return self.feedback.pop(0) if self.feedback else ""


def reviser() -> LLM:
    """Answers 'draft'; after feedback, 'revised: <feedback>'."""

    def respond(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        marker = "asked for changes: "
        if marker in prompt:
            return f"Final Answer: revised: {prompt.split(marker, 1)[1].splitlines()[0]}"
        return "Final Answer: draft"

    return LLM(model="sim", responder=respond)


def reviewed_crew(**task_kwargs: Any) -> Crew:
    agent = Agent(role="Author", goal="Write", backstory="Open to notes.", llm=reviser())
    return Crew(
        agents=[agent],
        tasks=[
            Task(
                description="Write a note",
                expected_output="A note",
                agent=agent,
                human_input=True,
                **task_kwargs,
            )
        ],
    )


async def test_feedback_makes_the_agent_revise(recorder: Recorder) -> None:
    reviewer = Reviewer("shorter please", "")
    with use_provider(reviewer):
        result = await reviewed_crew().akickoff()
    assert result.raw == "revised: shorter please"
    assert [(r.round, r.output.raw) for r in reviewer.requests] == [
        (0, "draft"),
        (1, "revised: shorter please"),
    ]
    assert {(r.task_name, r.agent_role) for r in reviewer.requests} == {("Write a note", "Author")}
    revision_prompt = llm_prompts(recorder)[1]
    assert "asked for changes: shorter please" in revision_prompt
    assert "Your previous answer was:\ndraft" in revision_prompt
    # A sync provider runs in a worker thread, never on the event loop.
    assert threading.get_ident() not in reviewer.threads


async def test_empty_or_none_feedback_accepts(recorder: Recorder) -> None:
    for answer in ("", "   ", None):
        recorder.events.clear()
        with use_provider(Reviewer(answer)):
            result = await reviewed_crew().akickoff()
        assert result.raw == "draft"
        assert len(recorder.of(LLMCallStartedEvent)) == 1


async def test_revisions_are_bounded(recorder: Recorder) -> None:
    reviewer = Reviewer(*["again"] * 50)
    with use_provider(reviewer):
        result = await reviewed_crew().akickoff()
    assert len(reviewer.requests) == MAX_FEEDBACK_ROUNDS
    assert len(recorder.of(LLMCallStartedEvent)) == MAX_FEEDBACK_ROUNDS + 1
    assert result.raw == "revised: again"


async def test_a_revision_passes_the_guardrails_again(recorder: Recorder) -> None:
    def no_draft(output: TaskOutput) -> tuple[bool, Any]:
        return True, output.raw

    with use_provider(Reviewer("tone it down", "")):
        await reviewed_crew(guardrail=no_draft).akickoff()
    assert [e.success for e in recorder.of(LLMGuardrailCompletedEvent)] == [True, True]


async def test_an_async_provider_is_awaited() -> None:
    rounds: list[int] = []

    async def provider(request: HumanFeedbackRequest) -> str:
        await anyio.lowlevel.checkpoint()
        rounds.append(request.round)
        return "" if rounds[1:] else "more detail"

    with use_provider(provider):
        result = await reviewed_crew().akickoff()
    assert rounds == [0, 1]
    assert result.raw == "revised: more detail"


async def test_a_non_text_answer_is_a_clear_error(recorder: Recorder) -> None:
    with use_provider(lambda request: 42), pytest.raises(TypeError, match="returned int"):
        await reviewed_crew().akickoff()
    assert recorder.types[-2:] == ["task_failed", "crew_kickoff_failed"]


async def test_cancel_while_waiting_for_an_async_provider(recorder: Recorder) -> None:
    asked = anyio.Event()

    async def waits_forever(request: HumanFeedbackRequest) -> str:
        asked.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    crew = reviewed_crew()
    with use_provider(waits_forever):
        async with anyio.create_task_group() as tg:
            tg.start_soon(crew.akickoff)
            await asked.wait()
            tg.cancel_scope.cancel()
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert recorder.types[-2:] == ["task_cancelled", "crew_kickoff_cancelled"]


@pytest.mark.parametrize("entry", ["akickoff", "kickoff", "kickoff_async"])
async def test_use_provider_reaches_every_entry(entry: str) -> None:
    reviewer = Reviewer("add a title", "")
    crew = reviewed_crew()
    with use_provider(reviewer):
        if entry == "kickoff":
            result = await anyio.to_thread.run_sync(crew.kickoff)
        else:
            result = await getattr(crew, entry)()
    assert isinstance(result, CrewOutput)
    assert result.raw == "revised: add a title"
    assert len(reviewer.requests) == 2


@pytest.fixture
def global_provider() -> Iterator[None]:
    yield
    set_provider(None)


@pytest.mark.usefixtures("global_provider")
async def test_set_provider_is_the_process_wide_default() -> None:
    reviewer = Reviewer("")
    set_provider(reviewer)
    assert current_provider() is reviewer
    inner = Reviewer("")
    with use_provider(inner):
        assert current_provider() is inner  # the context-local one wins
    await reviewed_crew().akickoff()
    assert len(reviewer.requests) == 1
    set_provider(None)
    assert isinstance(current_provider(), ConsoleInput)


def test_providers_must_be_callable() -> None:
    with pytest.raises(TypeError, match="must be callable"), use_provider("yes"):  # type: ignore[arg-type]
        pass
    with pytest.raises(TypeError, match="must be callable"):
        set_provider(42)  # type: ignore[arg-type]


async def test_the_console_provider_shows_the_answer_and_reads_a_line() -> None:
    stdout = io.StringIO()
    console = ConsoleInput(stdin=io.StringIO("a friendlier tone\n\n"), stdout=stdout)
    with use_provider(console):
        result = await reviewed_crew().akickoff()
    assert result.raw == "revised: a friendlier tone"
    shown = stdout.getvalue()
    assert "## Answer to task 'Write a note' by 'Author':\ndraft\n" in shown
    assert "revised: a friendlier tone" in shown
    assert shown.count("press Enter to accept") == 2


class _Prompted(io.StringIO):
    """An output stream that tells the test when the console has asked its question."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()

    def flush(self) -> None:
        super().flush()
        self.asked.set()


@pytest.mark.skipif(os.name == "nt", reason="select() on pipes is POSIX only")
@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancel_while_the_console_waits_for_a_line(entry: str, recorder: Recorder) -> None:
    read_fd, write_fd = os.pipe()
    stdout = _Prompted()
    await warm_thread_pools()
    threads_before = threading.active_count()
    with os.fdopen(read_fd) as stdin, os.fdopen(write_fd, "w"):
        crew = reviewed_crew()
        with use_provider(ConsoleInput(stdin=stdin, stdout=stdout)):
            async with anyio.create_task_group() as tg:
                tg.start_soon(getattr(crew, entry))
                assert await anyio.to_thread.run_sync(stdout.asked.wait, 10)
                tg.cancel_scope.cancel()
    # The reading thread noticed the cancellation: it is not left blocked on the pipe.
    assert recorder.types[-2:] == ["task_cancelled", "crew_kickoff_cancelled"]
    assert settle_threads(threads_before) <= threads_before


@pytest.mark.skipif(os.name == "nt", reason="select() on pipes is POSIX only")
async def test_the_console_reads_one_line_at_a_time_from_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"a friendlier tone\n\n")  # both lines arrive at once
    with (
        os.fdopen(read_fd) as stdin,
        os.fdopen(write_fd, "w"),
        use_provider(ConsoleInput(stdin=stdin, stdout=io.StringIO())),
        anyio.fail_after(10),  # reading ahead would leave the second line unseen
    ):
        result = await reviewed_crew().akickoff()
    assert result.raw == "revised: a friendlier tone"


@pytest.mark.parametrize(
    "path",
    [
        "anycrew.human_input",
        "anycrew.tasks.conditional_task",
        "anycrew.tasks.guardrail",
        "anycrew.tasks.llm_guardrail",
        "anycrew.events.llm_guardrail_events",
    ],
)
def test_the_new_public_modules_are_documented(path: str) -> None:
    module = importlib.import_module(path)
    assert module.__doc__
    names = getattr(module, "__all__", None) or [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_") and isinstance(obj, type) and obj.__module__ == path
    ]
    assert names
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, type) or inspect.isfunction(obj):
            assert obj.__doc__, f"{path}.{name} has no docstring"


def test_the_example_runs_and_prints_what_it_promises() -> None:
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "task_control.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Tides rise and fall twice a day, pulled by the Moon and Sun.",
        "''",
    ]


def test_use_provider_reaches_stream_sessions() -> None:
    # Sessions run on loops of their own, in helper threads: the provider set around
    # them must still be the one asked (not the console).
    reviewer = Reviewer("tone it down", "")
    with use_provider(reviewer), reviewed_crew().stream_events() as session:
        frames = list(session.events)
    assert frames
    assert session.result.raw == "revised: tone it down"
    assert len(reviewer.requests) == 2


class _Transcript(io.StringIO):
    """An output stream that keeps each flushed question in order with the test's marks."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log
        self.asked = [threading.Event(), threading.Event()]

    def flush(self) -> None:
        super().flush()
        asked = self.getvalue().count("## Feedback for a revision")
        self.log.append(f"asked {asked}")
        self.asked[min(asked, 2) - 1].set()


@pytest.mark.skipif(os.name == "nt", reason="select() on pipes is POSIX only")
def test_the_console_asks_one_question_at_a_time() -> None:
    # Two tasks want feedback at once: the second question waits until the first
    # has its line, or their prompts would interleave and race for the same input.
    log: list[str] = []
    stdout = _Transcript(log)
    read_fd, write_fd = os.pipe()
    answers: list[str] = []
    with os.fdopen(read_fd) as stdin, os.fdopen(write_fd, "w") as typed:
        console = ConsoleInput(stdin=stdin, stdout=stdout)
        request = HumanFeedbackRequest(
            task_name="t", agent_role="r", output=TaskOutput(description="d", raw="x"), round=0
        )
        readers = [
            threading.Thread(target=lambda: answers.append(console(request))) for _ in range(2)
        ]
        readers[0].start()
        assert stdout.asked[0].wait(10)
        readers[1].start()
        # The second question must not come while the first waits for its line.
        assert not stdout.asked[1].wait(0.3)
        log.append("typed first")
        typed.write("first\n")
        typed.flush()
        assert stdout.asked[1].wait(10)
        typed.write("second\n")
        typed.flush()
        for reader in readers:
            reader.join(10)
    assert log == ["asked 1", "typed first", "asked 2"]
    assert answers == ["first", "second"]
