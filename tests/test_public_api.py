"""The public surface: every exported name is importable, documented and public."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import anycrew
import anycrew.agents
import anycrew.crews.evaluation
import anycrew.events
import anycrew.flow
import anycrew.memory.storage.kickoff_task_outputs_storage
import anycrew.types.streaming

PUBLIC_MODULES = [
    anycrew,
    anycrew.events,
    anycrew.flow,
    anycrew.types.streaming,
    anycrew.agents,
    anycrew.crews.evaluation,
    anycrew.memory.storage.kickoff_task_outputs_storage,
]


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_exports_are_sorted_documented_and_public(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(set(names)) == len(names)
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__doc__, f"{name} has no docstring"
            owner = obj.__module__
            assert owner.startswith("anycrew"), (name, owner)
            assert not any(part.startswith("_") for part in owner.split(".")), (name, owner)
            assert getattr(importlib.import_module(owner), obj.__name__) is obj


def test_crewai_import_paths_exist() -> None:
    from anycrew.crews.crew_output import CrewOutput
    from anycrew.llms.base_llm import BaseLLM
    from anycrew.tasks.task_output import TaskOutput
    from anycrew.types.usage_metrics import UsageMetrics

    assert CrewOutput is anycrew.CrewOutput
    assert TaskOutput is anycrew.TaskOutput
    assert BaseLLM is anycrew.BaseLLM
    assert UsageMetrics is anycrew.UsageMetrics


def test_import_stays_light() -> None:
    code = (
        "import sys, anycrew; "
        "heavy = [m for m in ('httpx', 'sqlite3', 'trio', 'anycrew.adapters.llm.sim') "
        "if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_names_load_on_first_use() -> None:
    # `import anycrew` alone loads neither pydantic nor anyio; a name loads what it
    # needs, and a crew's events do not build the flow events' classes.
    code = (
        "import sys, anycrew; "
        "before = [m for m in ('pydantic', 'anyio', 'anycrew.agent') if m in sys.modules]; "
        "from anycrew import Agent, Crew, Task; "
        "import anycrew.events; anycrew.events.event_bus; "
        "after = [m for m in ('anycrew.agent', 'anycrew.crew', 'anycrew.events.flow_events') "
        "if m in sys.modules]; "
        "print(before, after, 'Flow' in dir(anycrew))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[] ['anycrew.agent', 'anycrew.crew'] True"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        anycrew.Nope  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"anycrew\.events' has no attribute 'Nope'"):
        anycrew.events.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_secrets_free_reprs() -> None:
    llm = anycrew.LLM(model="sim", latency=0.5)
    assert repr(llm) == "LLM(model='sim', stream=False)"
    agent = anycrew.Agent(role="r", goal="g", backstory="b", llm=llm)
    assert repr(agent) == "Agent(role='r', llm=LLM(model='sim', stream=False))"


def test_storing_a_kickoff_does_not_load_flows(tmp_path: Path) -> None:
    # The task-output store shares the storage directory with flows, not their code:
    # the first stored kickoff (often a cancelled one) should not pay for importing them.
    code = (
        "import sys; from anycrew.bench._common import build_crew; "
        "build_crew(1, 2).kickoff({'topic': 'x'}); "
        "print(sorted(m for m in sys.modules if m.startswith('anycrew.flow')))"
    )
    env = {**os.environ, "ANYCREW_STORAGE_DIR": str(tmp_path), "ANYCREW_STORE_TASK_OUTPUTS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "kickoff_task_outputs.db").stat().st_size > 0  # it did store
