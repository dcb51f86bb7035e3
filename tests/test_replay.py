"""Replay, the kickoff task-output store, crew.test and their command-line entries."""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from anycrew import LLM, Agent, Crew, Task
from anycrew.crews.evaluation import CrewTestResult
from anycrew.errors import ConfigurationError, InvalidInputError, OutputValidationError, ReplayError
from anycrew.events import (
    CrewKickoffCancelledEvent,
    CrewKickoffStartedEvent,
    CrewTestCompletedEvent,
    CrewTestFailedEvent,
    CrewTestResultEvent,
    CrewTestStartedEvent,
    LLMCallStartedEvent,
    TaskCancelledEvent,
    TaskStartedEvent,
)
from anycrew.memory.storage.kickoff_task_outputs_storage import (
    KickoffTaskOutputsSQLiteStorage,
    StoredKickoff,
    default_storage,
)

from .conftest import Recorder, make_crew

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh storage directory for this test, with kickoffs storing their outputs."""
    directory = tmp_path / "store"
    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(directory))
    monkeypatch.delenv("ANYCREW_STORE_TASK_OUTPUTS", raising=False)
    return directory


class Numbered:
    """A simulator whose every answer is numbered, so a stored answer is recognisable.

    ``fail_on`` makes the call whose task line contains that text raise, once;
    ``latency`` is the simulator's scripted latency.
    """

    def __init__(self, fail_on: str | None = None, latency: float = 0.0) -> None:
        self.count = itertools.count(1)
        self.calls: list[str] = []
        self.fail_on = fail_on
        self.llm = LLM(model="sim", responder=self._respond, latency=latency)

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        task_line = next(
            line for line in messages[-1]["content"].splitlines() if "Step" in line
        ).strip()
        if self.fail_on is not None and self.fail_on in task_line:
            self.fail_on = None
            raise RuntimeError(f"model failure on {task_line}")
        self.calls.append(task_line)
        return f"Final Answer: answer #{next(self.count)} to {task_line}"


def three_step_crew(model: Numbered, **crew: Any) -> Crew:
    return make_crew(3, llm=model.llm, **crew)


def task_id(crew: Crew, position: int) -> str:
    return str(crew.tasks[position].id)


async def kick(crew: Crew, entry: str, inputs: dict[str, Any]) -> Any:
    if entry == "kickoff":
        return await anyio.to_thread.run_sync(crew.kickoff, inputs)
    return await getattr(crew, entry)(inputs)


async def replay(crew: Crew, entry: str, task: str, inputs: dict[str, Any] | None = None) -> Any:
    if entry == "replay":
        return await anyio.to_thread.run_sync(crew.replay, task, inputs)
    return await crew.areplay(task, inputs)


# -- replay -------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kickoff_entry", "replay_entry"),
    [("akickoff", "areplay"), ("kickoff", "replay"), ("kickoff_async", "areplay")],
)
async def test_replay_from_the_second_task_runs_only_the_second_and_third(
    store_dir: Path, recorder: Recorder, kickoff_entry: str, replay_entry: str
) -> None:
    model = Numbered()
    crew = three_step_crew(model)
    first = await kick(crew, kickoff_entry, {"topic": "tides"})
    (original,) = recorder.of(CrewKickoffStartedEvent)
    assert [o.raw for o in first.tasks_output] == [
        "answer #1 to Current Task: Step 1: study tides",
        "answer #2 to Current Task: Step 2: study tides",
        "answer #3 to Current Task: Step 3: study tides",
    ]
    recorder.events.clear()

    result = await replay(crew, replay_entry, task_id(crew, 1))

    assert len(recorder.of(LLMCallStartedEvent)) == 2
    assert model.calls[3:] == [
        "Current Task: Step 2: study tides",
        "Current Task: Step 3: study tides",
    ]
    started = recorder.of(TaskStartedEvent)
    assert [e.task_name for e in started] == ["step2", "step3"]
    # Task two sees task one's stored output (answer #1), not a fresh one.
    assert started[0].context == first.tasks_output[0].raw
    assert recorder.types[0] == "crew_kickoff_started"
    assert recorder.types[-1] == "crew_kickoff_completed"
    assert [o.raw for o in result.tasks_output] == [
        first.tasks_output[0].raw,
        "answer #4 to Current Task: Step 2: study tides",
        "answer #5 to Current Task: Step 3: study tides",
    ]
    assert crew.tasks[0].output is not None
    assert crew.tasks[0].output.raw == first.tasks_output[0].raw

    # The replay is stored too, marked as one, and can be replayed in turn.
    (latest,) = await default_storage().latest(1)
    assert latest.replay_of == original.run_id
    assert latest.run_id == recorder.of(CrewKickoffStartedEvent)[0].run_id
    assert [t.restored for t in latest.tasks] == [True, False, False]
    assert latest.status == "completed"
    again = await crew.areplay(task_id(crew, 2))
    assert again.tasks_output[1].raw == "answer #4 to Current Task: Step 2: study tides"
    assert again.raw == "answer #6 to Current Task: Step 3: study tides"


@pytest.mark.anyio
async def test_replay_uses_the_stored_inputs_or_new_ones(
    store_dir: Path, recorder: Recorder
) -> None:
    model = Numbered()
    crew = three_step_crew(model)
    await crew.akickoff({"topic": "tides"})

    same = await crew.areplay(task_id(crew, 2))
    assert same.raw == "answer #4 to Current Task: Step 3: study tides"
    assert recorder.of(CrewKickoffStartedEvent)[-1].inputs == {"topic": "tides"}

    changed = await crew.areplay(task_id(crew, 1), inputs={"topic": "owls"})
    assert model.calls[-2:] == [
        "Current Task: Step 2: study owls",
        "Current Task: Step 3: study owls",
    ]
    assert changed.tasks_output[0].raw == "answer #1 to Current Task: Step 1: study tides"
    assert recorder.of(CrewKickoffStartedEvent)[-1].inputs == {"topic": "owls"}


@pytest.mark.anyio
async def test_replay_after_a_failed_kickoff(store_dir: Path, recorder: Recorder) -> None:
    model = Numbered(fail_on="Step 3")
    crew = three_step_crew(model)
    with pytest.raises(RuntimeError, match="model failure"):
        await crew.akickoff({"topic": "tides"})
    (failed,) = await default_storage().latest(1)
    assert failed.status == "failed"
    assert "model failure" in (failed.error or "")
    assert [t.output is not None for t in failed.tasks] == [True, True, False]
    recorder.events.clear()

    result = await crew.areplay(task_id(crew, 2))
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert recorder.of(TaskStartedEvent)[0].context == (
        "answer #1 to Current Task: Step 1: study tides\n\n----------\n\n"
        "answer #2 to Current Task: Step 2: study tides"
    )
    assert result.raw == "answer #3 to Current Task: Step 3: study tides"


@pytest.mark.anyio
async def test_replay_takes_the_latest_kickoff_that_has_every_earlier_output(
    store_dir: Path,
) -> None:
    model = Numbered()
    crew = three_step_crew(model)
    await crew.akickoff({"topic": "complete"})  # answers 1, 2, 3
    model.fail_on = "Step 2"
    with pytest.raises(RuntimeError):
        await crew.akickoff({"topic": "broken"})  # answer 4 for step 1, then fails

    complete, broken = [k.run_id for k in await default_storage().latest(2)][::-1]
    store = default_storage()
    # From task 2: the failed kickoff is the newest with task 1's output.
    source = await store.find_replay_source(task_id(crew, 1))
    assert source is not None
    assert source.run_id == broken
    # From task 3: the failed kickoff lacks task 2's output, so the complete one serves.
    source = await store.find_replay_source(task_id(crew, 2))
    assert source is not None
    assert source.run_id == complete

    from_three = await crew.areplay(task_id(crew, 2))
    assert from_three.tasks_output[1].raw == "answer #2 to Current Task: Step 2: study complete"
    assert model.calls[-1] == "Current Task: Step 3: study complete"


@pytest.mark.anyio
async def test_unknown_task_ids_and_crews_never_kicked_off_are_clear_errors(
    store_dir: Path, recorder: Recorder
) -> None:
    crew = three_step_crew(Numbered())
    with pytest.raises(ReplayError, match=r"run crew\.kickoff\(\) first") as info:
        await crew.areplay(task_id(crew, 1))
    assert "task 2 ('step2')" in str(info.value)
    assert info.value.task_id == task_id(crew, 1)
    assert isinstance(info.value, ValueError)

    await crew.akickoff({"topic": "tides"})
    recorder.events.clear()
    with pytest.raises(ReplayError, match="no stored kickoff has task 'no-such-task'"):
        await crew.areplay("no-such-task")
    with pytest.raises(ReplayError, match="takes the id of a task"):
        await crew.areplay(42)  # type: ignore[arg-type]
    with pytest.raises(ReplayError, match="has 2"):
        await make_crew(2).areplay(task_id(crew, 1))
    with pytest.raises(ReplayError):
        await anyio.to_thread.run_sync(crew.replay, "no-such-task")  # the sync entry too
    assert recorder.events == []  # nothing ran


@pytest.mark.anyio
async def test_a_task_that_failed_everywhere_before_it_is_named(store_dir: Path) -> None:
    model = Numbered(fail_on="Step 1")
    crew = three_step_crew(model)
    with pytest.raises(RuntimeError):
        await crew.akickoff({"topic": "tides"})
    with pytest.raises(ReplayError, match="replay from an earlier task"):
        await crew.areplay(task_id(crew, 2))


@pytest.mark.anyio
async def test_replaying_the_first_task_is_a_kickoff(store_dir: Path, recorder: Recorder) -> None:
    model = Numbered()
    single = make_crew(1, llm=model.llm)
    await single.akickoff({"topic": "tides"})
    assert await default_storage().latest(1) == []  # one task: nothing to store
    result = await single.areplay(task_id(single, 0), {"topic": "owls"})
    assert result.raw == "answer #2 to Current Task: Step 1: study owls"

    crew = three_step_crew(model)
    await crew.akickoff({"topic": "moss"})
    recorder.events.clear()
    again = await crew.areplay(task_id(crew, 0))  # the stored inputs
    assert len(recorder.of(LLMCallStartedEvent)) == 3
    assert again.raw == "answer #8 to Current Task: Step 3: study moss"


# -- the store ----------------------------------------------------------------------


class Verdict(BaseModel):
    name: str
    score: int


class Strict(BaseModel):
    name: str
    score: int
    reason: str


@pytest.mark.anyio
async def test_structured_outputs_round_trip_and_are_validated_again(
    store_dir: Path, recorder: Recorder
) -> None:
    replies = [
        'Final Answer: {"name": "tides", "score": 7}',
        'Final Answer: {"name": "rain", "score": 2}',
        "Final Answer: plain text",
    ]
    agent = Agent(role="Judge", goal="g", backstory="b", llm=LLM(model="sim", replies=replies))
    judged = Task(description="Judge", expected_output="v", agent=agent, output_pydantic=Verdict)
    as_json = Task(description="Rate", expected_output="v", agent=agent, output_json=Verdict)
    last = Task(description="Sum up", expected_output="text", agent=agent)
    crew = Crew(agents=[agent], tasks=[judged, as_json, last])
    first = await crew.akickoff()

    (stored,) = await default_storage().latest(1)
    assert stored.tasks[0].output is not None
    assert stored.tasks[0].output["pydantic"] == {"name": "tides", "score": 7}
    assert stored.tasks[1].output is not None
    assert stored.tasks[1].output["json_dict"] == {"name": "rain", "score": 2}

    result = await crew.areplay(str(last.id))
    restored, restored_json = result.tasks_output[0], result.tasks_output[1]
    assert isinstance(restored.pydantic, Verdict)
    assert restored.pydantic == first.tasks_output[0].pydantic
    assert restored.output_format == first.tasks_output[0].output_format
    assert restored_json.json_dict == {"name": "rain", "score": 2}
    assert restored_json.json == first.tasks_output[1].json
    assert restored.model_dump() == first.tasks_output[0].model_dump()

    # The task's model changed since: the stored output is checked against it.
    judged.output_pydantic = Strict
    recorder.events.clear()
    with pytest.raises(ReplayError, match=r"task 1 \('Judge'\).*no longer fits") as info:
        await crew.areplay(str(last.id))
    assert "reason" in str(info.value)
    assert recorder.events == []


@pytest.mark.anyio
async def test_concurrent_kickoffs_are_stored_separately(
    store_dir: Path, recorder: Recorder
) -> None:
    model = Numbered(latency=0.01)  # the two kickoffs' calls interleave
    crew = make_crew(2, llm=model.llm)
    outputs: dict[str, Any] = {}

    async def one(topic: str) -> None:
        outputs[topic] = await crew.akickoff({"topic": topic})

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "owls")
        tg.start_soon(one, "bees")
    starts = [e.run_id for e in recorder.of(CrewKickoffStartedEvent)]

    stored = {k.inputs["topic"]: k for k in await default_storage().latest(10)}
    assert set(stored) == {"owls", "bees"}
    assert {k.run_id for k in stored.values()} == set(starts)
    for topic, kickoff in stored.items():
        assert [t.output["raw"] for t in kickoff.tasks if t.output] == [
            o.raw for o in outputs[topic].tasks_output
        ]
        assert all(topic in t.description for t in kickoff.tasks)
        assert kickoff.crew_id == str(crew.id)


@pytest.mark.anyio
async def test_opting_out_stores_nothing(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crew = make_crew(2, llm=Numbered().llm)
    crew.store_task_outputs = False
    await crew.akickoff({"topic": "t"})
    crew.store_task_outputs = True
    monkeypatch.setenv("ANYCREW_STORE_TASK_OUTPUTS", "0")
    await crew.akickoff({"topic": "t"})
    assert await default_storage().latest(5) == []
    with pytest.raises(ReplayError, match="store_task_outputs"):
        await crew.areplay(task_id(crew, 1))


@pytest.mark.anyio
async def test_a_store_that_cannot_be_written_does_not_fail_the_kickoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(blocker / "store"))
    monkeypatch.delenv("ANYCREW_STORE_TASK_OUTPUTS", raising=False)
    crew = make_crew(2, llm=Numbered().llm)
    with caplog.at_level(logging.WARNING, logger="anycrew.storage"):
        result = await crew.akickoff({"topic": "t"})
    assert result.raw == "answer #2 to Current Task: Step 2: study t"
    (message,) = [r.getMessage() for r in caplog.records if r.name == "anycrew.storage"]
    assert "cannot be replayed" in message
    assert "ANYCREW_STORAGE_DIR" in message


@pytest.mark.anyio
async def test_the_store_keeps_a_kickoff_in_one_piece(tmp_path: Path) -> None:
    store = KickoffTaskOutputsSQLiteStorage(tmp_path / "k.db")
    kickoff = StoredKickoff(
        run_id="r1",
        crew_id="c",
        crew_name="crew",
        inputs={"topic": "ünïcode", "n": [1, 2]},
        status="cancelled",
        tasks=(),
    )
    await store.add(kickoff)
    loaded = await store.load("r1")
    assert loaded is not None
    assert loaded.inputs == {"topic": "ünïcode", "n": [1, 2]}
    assert loaded.status == "cancelled"
    assert loaded.created_at
    await store.delete_all()
    assert await store.load("r1") is None
    with pytest.raises(ValueError, match="memory"):
        KickoffTaskOutputsSQLiteStorage(":memory:")
    await store.aclose()


# -- cancellation --------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_cancelled_replay_stops_and_is_stored_as_cancelled(
    store_dir: Path, recorder: Recorder
) -> None:
    model = Numbered()
    crew = three_step_crew(model)
    await crew.akickoff({"topic": "tides"})
    slow_calls: list[str] = []
    first_call = threading.Event()

    def slow(messages: list[dict[str, Any]]) -> str:
        slow_calls.append(messages[-1]["content"])
        first_call.set()
        return "Final Answer: late"

    crew.agents[0].llm = LLM(model="sim", responder=slow, latency=30.0)
    recorder.events.clear()

    async with anyio.create_task_group() as tg:
        tg.start_soon(crew.areplay, task_id(crew, 1))
        assert await anyio.to_thread.run_sync(first_call.wait, 10)
        tg.cancel_scope.cancel()

    assert len(slow_calls) == 1  # task two's call was in flight; task three never started
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert recorder.types[-2:] == ["task_cancelled", "crew_kickoff_cancelled"]
    assert len(recorder.of(TaskCancelledEvent)) == 1
    assert len(recorder.of(CrewKickoffCancelledEvent)) == 1
    (latest,) = await default_storage().latest(1)
    assert latest.status == "cancelled"
    assert latest.replay_of is not None
    assert [t.output is not None for t in latest.tasks] == [True, False, False]


# -- the command line ----------------------------------------------------------------

CREW_MODULE = """
import os
from anycrew import LLM, Agent, Crew, Task

calls = []


def respond(messages):
    calls.append(1)
    task = [l for l in messages[-1]["content"].splitlines() if "Step" in l][0]
    return f"Final Answer: call {len(calls)} in pid {os.getpid()}: {task}"


def build():
    agent = Agent(role="Clerk", goal="File", backstory="Tidy.",
                  llm=LLM(model="sim", responder=respond))
    tasks = [Task(description=f"Step {i}: file {{topic}}", expected_output="ok", agent=agent)
             for i in (1, 2, 3)]
    return Crew(agents=[agent], tasks=tasks, name="clerks")
"""


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("replay_crew_module", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _anycrew(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anycrew", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_lists_and_replays_stored_kickoffs(
    store_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "clerks.py"
    path.write_text(CREW_MODULE)
    crew = _load(path).build()
    first = crew.kickoff({"topic": "invoices"})
    ids = [str(task.id) for task in crew.tasks]

    listed = _anycrew("log-tasks-outputs", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "crew 'clerks': completed" in listed.stdout
    for position, tid in enumerate(ids, start=1):
        assert f"Task {position}: {tid} [done]" in listed.stdout
    assert "Description: Step 2: file invoices" in listed.stdout

    # Another process builds the crew afresh (new task ids): the stored index decides.
    replayed = _anycrew("replay", "-t", ids[1], "--crew", "clerks:build", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    lines = replayed.stdout.splitlines()
    assert lines[0] == f"Replaying crew 'clerks' from task {ids[1]}"
    # Two calls in the new process: tasks two and three only.
    assert lines[-1].startswith("call 2 in pid ")
    assert lines[-1].endswith("Current Task: Step 3: file invoices")
    assert str(os.getpid()) not in lines[-1]

    by_file = _anycrew(
        "replay",
        "-t",
        ids[2],
        "--crew",
        f"{path}:build",
        "--inputs",
        '{"topic": "bills"}',
        cwd=ROOT,
    )
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stdout.splitlines()[-1].endswith("Current Task: Step 3: file bills")

    latest = _anycrew("log-tasks-outputs", "-n", "3", cwd=tmp_path)
    assert latest.stdout.count("Kickoff ") == 3
    assert "a replay of " in latest.stdout
    assert "[restored]" in latest.stdout
    assert first.raw.startswith("call 3 in pid ")

    unknown = _anycrew("replay", "-t", "nope", "--crew", "clerks:build", cwd=tmp_path)
    assert unknown.returncode == 1
    assert "anycrew replay: no stored kickoff has task 'nope'" in unknown.stderr
    bad_ref = _anycrew("replay", "-t", ids[1], "--crew", "clerks", cwd=tmp_path)
    assert bad_ref.returncode == 2
    assert "module:attribute" in bad_ref.stderr


def test_log_tasks_outputs_with_an_empty_store(store_dir: Path, tmp_path: Path) -> None:
    listed = _anycrew("log-tasks-outputs", cwd=tmp_path)
    assert listed.returncode == 0
    assert listed.stdout.startswith("No task outputs found.")
    assert str(store_dir) in listed.stdout


# -- crew.test -----------------------------------------------------------------------


def scores_llm(*qualities: object, latency: float = 0.0) -> LLM:
    """An evaluating model that answers the given qualities in turn."""
    return LLM(
        model="sim",
        replies=[json.dumps({"quality": q}) for q in qualities],
        latency=latency,
    )


async def run_test(crew: Crew, entry: str, *args: Any) -> CrewTestResult:
    if entry == "test":
        return await anyio.to_thread.run_sync(crew.test, *args)
    return await crew.atest(*args)


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ["atest", "test"])
async def test_crew_test_scores_every_task_of_every_run(
    entry: str, store_dir: Path, recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    crew = make_crew(2, name="clerks")
    result = await run_test(crew, entry, 2, scores_llm(8, 6, 9, 7), {"topic": "tides"})

    assert result.scores == [[8.0, 6.0], [9.0, 7.0]]
    assert result.task_averages == [8.5, 6.5]
    assert result.run_scores == [7.0, 8.0]
    assert result.crew_average == 7.5
    assert result.tasks == ["step1", "step2"]
    assert result.agents == ["Analyst of tides", "Analyst of tides"]
    assert result.eval_model == "sim"
    assert len(result.run_durations) == 2
    assert all(d > 0 for run in result.durations for d in run)

    (started,) = recorder.of(CrewTestStartedEvent)
    assert (started.n_iterations, started.eval_llm, started.inputs) == (
        2,
        "sim",
        {"topic": "tides"},
    )
    assert started.crew_name == "clerks"
    results = recorder.of(CrewTestResultEvent)
    assert [(e.iteration, e.task_name, e.quality) for e in results] == [
        (1, "step1", 8.0),
        (1, "step2", 6.0),
        (2, "step1", 9.0),
        (2, "step2", 7.0),
    ]
    assert [e.task_id for e in results[:2]] == [str(t.id) for t in crew.tasks]
    assert all(e.model == "sim" and e.execution_duration for e in results)
    (completed,) = recorder.of(CrewTestCompletedEvent)
    assert completed.started_event_id == started.event_id
    assert recorder.types[0] == "crew_test_started"
    assert recorder.types[-1] == "crew_test_completed"
    assert recorder.of(CrewTestFailedEvent) == []
    # Each kickoff nests under the test; 2 runs x 2 tasks, each also scored.
    kickoffs = recorder.of(CrewKickoffStartedEvent)
    assert [k.parent_event_id for k in kickoffs] == [started.event_id] * 2
    assert len(recorder.of(LLMCallStartedEvent)) == 8

    table = str(result).splitlines()
    assert table[0] == "Task scores of crew 'clerks' (1-10, higher is better; scored by sim)"
    assert table[1].split() == ["Task", "Run", "1", "Run", "2", "Avg.", "Agent"]
    assert table[3].split() == ["1.", "step1", "8.0", "9.0", "8.5", "Analyst", "of", "tides"]
    assert table[4].split() == ["2.", "step2", "6.0", "7.0", "6.5", "Analyst", "of", "tides"]
    assert table[5].split() == ["Crew", "7.00", "8.00", "7.50"]
    assert table[6].startswith("Execution time (s)")
    assert str(result) in capsys.readouterr().out  # printed, as CrewAI does
    # Each run is a kickoff like any other: stored, so it can be replayed.
    # (Nested in the test's run, each gets a kickoff id of its own.)
    stored = await default_storage().latest(5)
    assert len({k.run_id for k in stored}) == 2
    assert all(k.status == "completed" and k.inputs == {"topic": "tides"} for k in stored)


@pytest.mark.anyio
async def test_crew_test_asks_again_for_a_score_out_of_range(recorder: Recorder) -> None:
    result = await make_crew(1).atest(1, scores_llm(42, 7), {"topic": "t"})
    assert result.scores == [[7.0]]
    assert len(recorder.of(LLMCallStartedEvent)) == 3  # the task, then two evaluations


@pytest.mark.anyio
async def test_crew_test_failures_emit_crew_test_failed(recorder: Recorder) -> None:
    model = Numbered()
    crew = make_crew(2, llm=model.llm)
    model.fail_on = "Step 2"
    with pytest.raises(RuntimeError, match="model failure"):
        await crew.atest(2, scores_llm(5), {"topic": "t"})
    (failed,) = recorder.of(CrewTestFailedEvent)
    assert "model failure" in failed.error
    assert failed.started_event_id == recorder.of(CrewTestStartedEvent)[0].event_id
    assert recorder.types[-1] == "crew_test_failed"
    assert recorder.of(CrewTestCompletedEvent) == []
    assert recorder.of(CrewTestResultEvent) == []  # it failed in the first run's kickoff

    recorder.events.clear()
    unusable = LLM(model="sim", replies=["no idea"])
    with pytest.raises(OutputValidationError, match="TaskEvaluationPydanticOutput"):
        await make_crew(1).atest(1, unusable, {"topic": "t"})
    (failed,) = recorder.of(CrewTestFailedEvent)
    assert "OutputValidationError" in failed.error


@pytest.mark.anyio
async def test_crew_test_rejects_bad_arguments_before_running(recorder: Recorder) -> None:
    crew = make_crew(1)
    with pytest.raises(ConfigurationError, match="n_iterations"):
        await crew.atest(0, "sim", {"topic": "t"})
    with pytest.raises(ConfigurationError, match="eval_llm"):
        await crew.atest(1, 42, {"topic": "t"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="topic"):
        await crew.atest(1, "sim")
    assert recorder.events == []


@pytest.mark.anyio
async def test_a_cancelled_crew_test_stops_at_once(recorder: Recorder) -> None:
    scoring = threading.Event()
    evaluations: list[str] = []

    def slow_score(messages: list[dict[str, Any]]) -> str:
        evaluations.append(messages[-1]["content"])
        scoring.set()
        return '{"quality": 5}'

    crew = make_crew(2)
    evaluator = LLM(model="sim", responder=slow_score, latency=30.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(crew.atest, 3, evaluator, {"topic": "t"})
        assert await anyio.to_thread.run_sync(scoring.wait, 10)
        tg.cancel_scope.cancel()

    assert len(evaluations) == 1  # the first scoring was in flight; nothing after it
    assert len(recorder.of(LLMCallStartedEvent)) == 3  # two tasks, one evaluation
    assert recorder.types[-1] == "agent_execution_cancelled"
    assert recorder.of(CrewTestCompletedEvent) == []
    assert recorder.of(CrewTestResultEvent) == []


def test_crew_test_from_sync_code(capsys: pytest.CaptureFixture[str]) -> None:
    result = make_crew(1).test(2, scores_llm(4, 10), {"topic": "t"})
    assert result.scores == [[4.0], [10.0]]
    assert result.task_averages == [7.0]
    printed = capsys.readouterr().out.splitlines()
    assert printed[3].split()[:5] == ["1.", "step1", "4.0", "10.0", "7.0"]


def test_the_test_command_reports_what_went_wrong(store_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "clerks.py").write_text(CREW_MODULE)
    # The default simulator answers prose, which is no score: the failure is reported.
    scored = _anycrew(
        "test", "--crew", "clerks:build", "-n", "1", "--inputs", '{"topic": "x"}', cwd=tmp_path
    )
    assert scored.returncode == 1
    assert "anycrew test: the answer to task 'evaluate Step 1: file x'" in scored.stderr
    assert "TaskEvaluationPydanticOutput" in scored.stderr
    bad_inputs = _anycrew("test", "--crew", "clerks:build", "--inputs", "[1]", cwd=tmp_path)
    assert bad_inputs.returncode == 2
    assert "--inputs takes a JSON object" in bad_inputs.stderr
    usage = _anycrew("--help", cwd=tmp_path)
    assert all(name in usage.stdout for name in ("replay", "log-tasks-outputs", "test"))


@pytest.mark.anyio
async def test_replay_and_crew_test_with_before_kickoff_callbacks(
    store_dir: Path, recorder: Recorder
) -> None:
    seen: list[dict[str, Any]] = []

    def fill_topic(inputs: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(inputs))
        return {**inputs, "topic": "tides"}

    model = Numbered()
    base = three_step_crew(model)
    crew = Crew(agents=base.agents, tasks=base.tasks, before_kickoff_callbacks=[fill_topic])
    await crew.akickoff({})
    (stored,) = await default_storage().latest(1)
    assert stored.inputs == {"topic": "tides"}  # what the callbacks returned

    # A replay runs on the stored inputs: the callbacks do not run again.
    result = await crew.areplay(task_id(crew, 1))
    assert seen == [{}]
    assert result.raw == "answer #5 to Current Task: Step 3: study tides"

    # New inputs go through the callbacks, as a kickoff's would.
    await crew.areplay(task_id(crew, 1), inputs={"topic": "waves"})
    assert seen == [{}, {"topic": "waves"}]
    (replayed,) = await default_storage().latest(1)
    assert replayed.inputs == {"topic": "tides"}

    # crew.test kicks off as kickoff does: the callbacks run for every run.
    scored = await crew.atest(2, scores_llm(7), {})
    assert seen == [{}, {"topic": "waves"}, {}, {}]
    assert scored.scores == [[7.0, 7.0, 7.0], [7.0, 7.0, 7.0]]
    assert recorder.of(CrewTestStartedEvent)[0].inputs == {}


@pytest.mark.anyio
async def test_replay_after_a_skipped_conditional_task(store_dir: Path, recorder: Recorder) -> None:
    from anycrew.tasks.conditional_task import ConditionalTask

    model = Numbered()
    agent = Agent(role="r", goal="g", backstory="b", llm=model.llm)
    first = Task(description="Step 1: look", expected_output="x", agent=agent)
    maybe = ConditionalTask(
        description="Step 2: dig", expected_output="x", agent=agent, condition=lambda out: False
    )
    last = Task(description="Step 3: sum up", expected_output="x", agent=agent)
    crew = Crew(agents=[agent], tasks=[first, maybe, last])
    await crew.akickoff()
    recorder.events.clear()

    result = await crew.areplay(str(last.id))
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert result.tasks_output[1].raw == ""  # the skip is restored as it was
    # The skipped task's empty output adds nothing to the context.
    assert recorder.of(TaskStartedEvent)[0].context == ("answer #1 to Current Task: Step 1: look")
    assert result.raw == "answer #3 to Current Task: Step 3: sum up"


@pytest.mark.anyio
async def test_crew_test_does_not_score_a_skipped_conditional_task(recorder: Recorder) -> None:
    from anycrew.tasks.conditional_task import ConditionalTask

    agent = Agent(role="r", goal="g", backstory="b", llm=LLM(model="sim"))
    first = Task(description="Look", expected_output="x", agent=agent)
    maybe = ConditionalTask(
        description="Dig", expected_output="x", agent=agent, condition=lambda out: False
    )
    crew = Crew(agents=[agent], tasks=[first, maybe])
    result = await crew.atest(2, scores_llm(6, 8))
    assert result.scores == [[6.0, None], [8.0, None]]
    assert result.task_averages == [7.0, None]
    assert result.run_scores == [6.0, 8.0]
    assert result.crew_average == 7.0
    assert [e.task_name for e in recorder.of(CrewTestResultEvent)] == ["Look", "Look"]
    assert str(result).splitlines()[4].split() == ["2.", "Dig", "-", "-", "-", "r"]
