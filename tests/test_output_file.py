"""Task(output_file=...): checked early, written whole, off the event loop."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, ValidationError

from anycrew import LLM, Agent, Crew, Task, TaskOutput
from anycrew.errors import InvalidInputError, OutputFileError
from anycrew.tasks.conditional_task import ConditionalTask

from .conftest import Recorder
from .test_callbacks import ENTRIES, CountingLLM, entries

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_task_crew(output_file: str | None, llm: LLM | None = None, **task_options: Any) -> Crew:
    agent = Agent(role="Writer", goal="Write", backstory="Brief.", llm=llm or LLM(model="sim"))
    task = Task(
        description="Write about {topic}",
        expected_output="A line",
        agent=agent,
        name="write",
        output_file=output_file,
        **task_options,
    )
    return Crew(agents=[agent], tasks=[task])


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@entries
async def test_the_raw_output_is_written_after_the_callbacks(entry: str, tmp_path: Path) -> None:
    existed_in_callback: list[bool] = []

    def callback(output: TaskOutput) -> None:
        existed_in_callback.append((tmp_path / "out.md").exists())

    crew = one_task_crew("out.md", callback=callback)
    result = await ENTRIES[entry](crew, {"topic": "tides"})
    assert (tmp_path / "out.md").read_text(encoding="utf-8") == result.raw
    assert result.raw == "Simulated answer to: Write about tides"
    assert existed_in_callback == [False]  # CrewAI's order: callbacks, then the file
    assert leftovers(tmp_path) == []


class Verdict(BaseModel):
    name: str
    score: int


@pytest.mark.parametrize("field", ["output_json", "output_pydantic"])
async def test_structured_outputs_are_written_as_json(field: str, tmp_path: Path) -> None:
    llm = LLM(model="sim", replies=['Final Answer: {"name": "tidés", "score": 7}'])
    crew = one_task_crew("verdict.json", llm=llm, **{field: Verdict})
    await crew.akickoff({"topic": "t"})
    text = (tmp_path / "verdict.json").read_text(encoding="utf-8")
    assert json.loads(text) == {"name": "tidés", "score": 7}
    assert "tidés" in text  # written as UTF-8, not escaped


async def test_placeholders_are_filled_and_directories_created(tmp_path: Path) -> None:
    crew = one_task_crew("reports/{topic}/summary.md")
    await crew.akickoff_for_each([{"topic": "owls"}, {"topic": "bees"}])
    assert (tmp_path / "reports/owls/summary.md").read_text() == (
        "Simulated answer to: Write about owls"
    )
    assert (tmp_path / "reports/bees/summary.md").exists()


async def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    target.write_text("old content that is much longer than the new answer " * 50)
    await one_task_crew("out.md").akickoff({"topic": "x"})
    assert target.read_text() == "Simulated answer to: Write about x"
    assert leftovers(tmp_path) == []


async def test_an_absolute_path_inside_the_working_directory_is_allowed(tmp_path: Path) -> None:
    await one_task_crew(str(tmp_path / "abs.md")).akickoff({"topic": "x"})
    assert (tmp_path / "abs.md").exists()


async def test_a_missing_directory_without_create_directory_fails_the_task(
    tmp_path: Path, recorder: Recorder
) -> None:
    crew = one_task_crew("missing/out.md", create_directory=False)
    with pytest.raises(OutputFileError, match="create_directory=True") as caught:
        await crew.akickoff({"topic": "x"})
    assert isinstance(caught.value, OSError)
    assert not (tmp_path / "missing").exists()
    assert recorder.types[-2:] == ["task_failed", "crew_kickoff_failed"]


async def test_a_failed_write_leaves_nothing_half_written(
    tmp_path: Path, recorder: Recorder
) -> None:
    (tmp_path / "taken").mkdir()  # a directory where the file should go
    with pytest.raises(OutputFileError, match="cannot write output_file 'taken'"):
        await one_task_crew("taken").akickoff({"topic": "x"})
    assert (tmp_path / "taken").is_dir()
    assert leftovers(tmp_path) == []
    assert recorder.types[-1] == "crew_kickoff_failed"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../out.md", "contains '..'"),
        ("reports/../../out.md", "contains '..'"),
        ("~/out.md", "starts with '~'"),
        ("$HOME/out.md", "does not expand environment variables"),
        ("reports/${USER}.md", "does not expand environment variables"),
        ("/etc/anycrew-out.md", "outside the working directory"),
        ("reports/", "names a directory"),
        ("reports/.", "names a directory"),
        (".", "names a directory"),
        ("", "is empty"),
    ],
)
def test_unsafe_paths_are_refused_when_the_task_is_built(path: str, problem: str) -> None:
    with pytest.raises(ValidationError, match="output_file") as caught:
        Task(description="d", expected_output="e", output_file=path)
    assert problem in str(caught.value)


def test_a_path_object_is_accepted() -> None:
    task = Task(description="d", expected_output="e", output_file=Path("reports") / "a.md")
    assert task.output_file == os.path.join("reports", "a.md")


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
@pytest.mark.parametrize(
    ("template", "topic"),
    [
        ("reports/{topic}.md", "../../escape"),
        ("{topic}.md", "/etc/passwd-like"),
        ("{topic}.md", "~root"),
        ("{topic}.md", "$HOME"),
    ],
)
async def test_inputs_that_would_escape_are_refused_before_the_run(
    entry: str, template: str, topic: str, recorder: Recorder, tmp_path: Path
) -> None:
    counter = CountingLLM()
    crew = one_task_crew(template, llm=counter.llm)
    with pytest.raises(InvalidInputError, match=re.escape(f"output_file '{template}' becomes")):
        await ENTRIES[entry](crew, {"topic": topic})
    assert counter.started == 0
    assert recorder.events == []  # nothing ran
    assert not (tmp_path / "reports").exists()


async def test_a_missing_placeholder_in_the_path_is_refused_before_the_run(
    recorder: Recorder,
) -> None:
    crew = one_task_crew("{topic}-{missing}.md")
    with pytest.raises(InvalidInputError, match=r"missing input 'missing'.*output_file"):
        await crew.akickoff({"topic": "x"})
    assert recorder.events == []


# The write happens in a worker thread: an audit hook sees which thread opens the file.
_opened: list[tuple[str, int]] = []
_watching: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _watching and args and _watching[0] in str(args[0]):
        _opened.append((str(args[0]), threading.get_ident()))


_hooked: list[bool] = []


async def test_the_file_is_written_off_the_event_loop(tmp_path: Path) -> None:
    if not _hooked:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: install it once
        _hooked.append(True)
    _watching[:] = [str(tmp_path / "reports")]
    _opened.clear()
    try:
        await one_task_crew("reports/off-loop.md").akickoff({"topic": "x"})
    finally:
        _watching.clear()
    loop_thread = threading.get_ident()
    writes = [(path, thread) for path, thread in _opened if path.endswith(".tmp")]
    assert len(writes) == 1  # the temporary file, renamed over the target
    assert writes[0][1] != loop_thread
    assert (tmp_path / "reports/off-loop.md").exists()


async def test_cancelling_during_the_run_writes_no_file(tmp_path: Path) -> None:
    crew = one_task_crew("late.md", llm=LLM(model="sim", latency=5))
    with anyio.move_on_after(0.1) as scope:
        await crew.akickoff({"topic": "x"})
    assert scope.cancelled_caught
    assert not (tmp_path / "late.md").exists()
    assert leftovers(tmp_path) == []


async def test_guardrails_run_first_and_a_skipped_task_gets_no_callbacks_or_file(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, str]] = []
    agent = Agent(role="Writer", goal="Write", backstory="Brief.", llm=LLM(model="sim"))
    checked = Task(
        description="Draft",
        expected_output="x",
        agent=agent,
        name="checked",
        guardrail=lambda output: (True, output.raw.upper()),
        callback=lambda output: seen.append(("task", output.raw)),
        output_file="checked.md",
    )
    skipped = ConditionalTask(
        description="Maybe",
        expected_output="x",
        agent=agent,
        name="skipped",
        condition=lambda previous: False,
        callback=lambda output: seen.append(("task", "skipped")),
        output_file="skipped.md",
    )
    crew = Crew(
        agents=[agent],
        tasks=[checked, skipped],
        task_callback=lambda output: seen.append(("crew", output.name or "")),
    )
    await crew.akickoff()
    assert seen == [("task", "SIMULATED ANSWER TO: DRAFT"), ("crew", "checked")]
    assert (tmp_path / "checked.md").read_text() == "SIMULATED ANSWER TO: DRAFT"
    assert not (tmp_path / "skipped.md").exists()
