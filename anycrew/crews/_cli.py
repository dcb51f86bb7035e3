"""``anycrew replay``, ``anycrew log-tasks-outputs`` and ``anycrew test``.

CrewAI's commands run a project's own scripts; anycrew has no project layout, so the
commands that run a crew take it as ``--crew module:attribute`` (or
``path/to/file.py:attribute``): a Crew, or a callable returning a Crew or an object
with a ``crew()`` method (CrewAI's ``@CrewBase`` classes).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import AnyCrewError

if TYPE_CHECKING:
    from ..crew import Crew
    from ..memory.storage.kickoff_task_outputs_storage import StoredKickoff


class _UsageError(Exception):
    """A command line that cannot work; the message says what to pass instead."""


def load_crew(reference: str) -> Crew:
    """The crew named by ``module:attribute`` or ``file.py:attribute``.

    Raises:
        _UsageError: the reference does not name a crew.
    """
    from ..crew import Crew

    module_name, sep, attribute = reference.rpartition(":")
    if not sep or not module_name or not attribute:
        raise _UsageError(
            f"--crew {reference!r}: write it as module:attribute or path/to/file.py:attribute"
        )
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {str(path)!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")  # like `python -m`: modules of the current directory
            module = importlib.import_module(module_name)
    except (ImportError, OSError) as exc:
        raise _UsageError(f"--crew {reference!r}: cannot import {module_name!r} ({exc})") from exc
    target: Any = getattr(module, attribute, None)
    if target is None:
        raise _UsageError(f"--crew {reference!r}: {module_name!r} has no {attribute!r}")
    if not isinstance(target, Crew) and callable(target):
        target = target()
    if not isinstance(target, Crew) and callable(getattr(target, "crew", None)):
        target = target.crew()
    if not isinstance(target, Crew):
        raise _UsageError(
            f"--crew {reference!r} is a {type(target).__name__}, not a Crew (nor a callable "
            "returning one)"
        )
    return target


def _inputs(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _UsageError(f"--inputs is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise _UsageError('--inputs takes a JSON object, like \'{"topic": "tides"}\'')
    return value


def replay_main(argv: Sequence[str]) -> int:
    """``anycrew replay -t TASK_ID --crew REF [--inputs JSON]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="anycrew replay",
        description="Run a crew again from a task, on the stored outputs of the tasks "
        "before it (see `anycrew log-tasks-outputs` for the task ids).",
    )
    parser.add_argument("-t", "--task_id", "--task-id", dest="task_id", required=True)
    parser.add_argument("--crew", required=True, help="module:attribute or file.py:attribute")
    parser.add_argument("--inputs", help="kickoff inputs as a JSON object (default: stored)")
    args = parser.parse_args(argv)
    try:
        crew = load_crew(args.crew)
        print(f"Replaying crew {crew.name!r} from task {args.task_id}", flush=True)
        result = crew.replay(args.task_id, _inputs(args.inputs))
    except (_UsageError, AnyCrewError) as exc:
        print(f"anycrew replay: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, AnyCrewError) else 2
    print(result.raw)
    return 0


def log_tasks_outputs_main(argv: Sequence[str]) -> int:
    """``anycrew log-tasks-outputs [-n N] [--run RUN_ID]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="anycrew log-tasks-outputs",
        description="List the tasks of the latest stored kickoffs, with the task ids "
        "`anycrew replay -t` takes.",
    )
    parser.add_argument("-n", "--kickoffs", type=int, default=1, help="how many (default 1)")
    parser.add_argument("--run", help="show this run id only")
    args = parser.parse_args(argv)
    from ..memory.storage.kickoff_task_outputs_storage import default_storage

    store = default_storage()

    async def read() -> list[StoredKickoff]:
        if args.run:
            found = await store.load(args.run)
            return [found] if found else []
        return await store.latest(max(args.kickoffs, 1))

    try:
        kickoffs = anyio.run(read)
    except AnyCrewError as exc:
        print(f"anycrew log-tasks-outputs: {exc}", file=sys.stderr)
        return 1
    if not kickoffs:
        print(
            "No task outputs found. Kickoffs of crews with two or more tasks are stored "
            f"in {str(store.db_path)!r} (ANYCREW_STORAGE_DIR) unless store_task_outputs=False."
        )
        return 0
    for kickoff in kickoffs:
        print(_describe(kickoff))
    return 0


def _describe(kickoff: StoredKickoff) -> str:
    replay = f", a replay of {kickoff.replay_of}" if kickoff.replay_of else ""
    lines = [
        f"Kickoff {kickoff.run_id} of crew {kickoff.crew_name!r}: {kickoff.status}{replay} "
        f"({kickoff.created_at})"
    ]
    for task in kickoff.tasks:
        state = "restored" if task.restored else ("done" if task.output else "not done")
        first = task.description.strip().splitlines()[0] if task.description.strip() else ""
        lines += [
            f"Task {task.task_index + 1}: {task.task_id} [{state}]",
            f"Description: {first}",
            "------",
        ]
    return "\n".join(lines)


def crew_test_main(argv: Sequence[str]) -> int:
    """``anycrew test --crew REF [-n N] [-m MODEL] [--inputs JSON]``; the exit status."""
    parser = argparse.ArgumentParser(
        prog="anycrew test",
        description="Kick a crew off N times and have a model score each task's output.",
    )
    parser.add_argument("--crew", required=True, help="module:attribute or file.py:attribute")
    parser.add_argument("-n", "--n_iterations", "--n-iterations", type=int, default=3)
    parser.add_argument(
        "-m", "--model", help="the scoring model (default: ANYCREW_MODEL, else the simulator)"
    )
    parser.add_argument("--inputs", help="kickoff inputs as a JSON object")
    args = parser.parse_args(argv)
    try:
        crew = load_crew(args.crew)
        from ..llm import default_llm

        model = args.model or default_llm()
        crew.test(args.n_iterations, model, _inputs(args.inputs))
    except (_UsageError, AnyCrewError) as exc:
        print(f"anycrew test: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, AnyCrewError) else 2
    return 0
