"""Parity: akickoff, kickoff (in a thread) and kickoff_async give the same run."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import pytest

from anycrew import LLM, Crew, CrewOutput
from anycrew.errors import InvalidInputError

from .conftest import ENTRIES, Recorder, make_crew

pytestmark = pytest.mark.anyio


def _shape(recorder: Recorder) -> list[tuple[str, int | None, str | None]]:
    # What must match across entries: types, order, and nesting (by position).
    index = {e.event_id: i for i, e in enumerate(recorder.events)}
    return [
        (e.type, e.emission_sequence, str(index.get(e.parent_event_id or "")))
        for e in recorder.events
    ]


async def _run_all(
    build: Callable[[], Crew], inputs: Any, recorder: Recorder
) -> dict[str, tuple[Any, list[tuple[str, int | None, str | None]]]]:
    seen = {}
    for name, entry in ENTRIES.items():
        recorder.events.clear()
        try:
            outcome: Any = await entry(build(), inputs)
        except Exception as exc:
            outcome = exc
        seen[name] = (outcome, _shape(recorder))
    return seen


async def test_same_result_and_events(recorder: Recorder) -> None:
    build = partial(make_crew, 3, llm=LLM(model="sim", stream=True))
    seen = await _run_all(build, {"topic": "parity"}, recorder)
    reference, reference_events = seen["akickoff"]
    assert isinstance(reference, CrewOutput)
    assert reference.raw == "Simulated answer to: Step 3: study parity"
    assert "llm_stream_chunk" in [t for t, _, _ in reference_events]
    for name, (output, events) in seen.items():
        assert isinstance(output, CrewOutput), name
        assert [t.raw for t in output.tasks_output] == [t.raw for t in reference.tasks_output]
        assert output.token_usage == reference.token_usage, name
        assert events == reference_events, name


async def test_same_errors(recorder: Recorder) -> None:
    def broken(messages: list[dict[str, Any]]) -> str:
        raise ValueError("the model is unwell")

    seen = await _run_all(
        partial(make_crew, 2, llm=LLM(model="sim", responder=broken)), {"topic": "x"}, recorder
    )
    for name, (error, events) in seen.items():
        assert type(error) is ValueError, name
        assert str(error) == "the model is unwell"
        assert events == seen["akickoff"][1], name
    assert seen["akickoff"][1][-1][0] == "crew_kickoff_failed"

    seen = await _run_all(partial(make_crew, 1), {"wrong": "x"}, recorder)
    for name, (error, events) in seen.items():
        assert isinstance(error, InvalidInputError), name
        assert events == [], name  # nothing ran


async def test_for_each_parity(recorder: Recorder) -> None:
    inputs = [{"topic": f"t{i}"} for i in range(4)]
    crew = make_crew(2)
    results = {
        "akickoff_for_each": await crew.akickoff_for_each(inputs, max_concurrency=2),
        "kickoff_for_each": await anyio.to_thread.run_sync(
            partial(crew.kickoff_for_each, inputs, max_concurrency=2)
        ),
        "kickoff_for_each_async": await crew.kickoff_for_each_async(inputs, max_concurrency=2),
    }
    expected = [f"Simulated answer to: Step 2: study t{i}" for i in range(4)]
    for name, outputs in results.items():
        assert [o.raw for o in outputs] == expected, name
    assert recorder.types.count("crew_kickoff_completed") == 12
