"""Replay: run a crew again from one task, on the stored outputs of the tasks before it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .. import runtime
from ..errors import ReplayError
from ..tasks.output_format import OutputFormat
from ..tasks.task_output import TaskOutput
from ._kickoff_record import KickoffRecord

if TYPE_CHECKING:
    from ..crew import Crew
    from ..crews.crew_output import CrewOutput
    from ..memory.storage.kickoff_task_outputs_storage import StoredKickoff
    from ..task import Task


def check_task_id(task_id: object) -> str:
    """The task id as stored (``str(task.id)``).

    Raises:
        ReplayError: *task_id* is neither a str nor a UUID.
    """
    if isinstance(task_id, uuid.UUID):
        return str(task_id)
    if isinstance(task_id, str) and task_id.strip():
        return task_id.strip()
    raise ReplayError(
        f"replay takes the id of a task (str(task.id), or what `anycrew log-tasks-outputs` "
        f"lists), got {task_id!r}",
        task_id=str(task_id),
    )


async def replay_crew(
    crew: Crew, task_id: object, inputs: Mapping[str, Any] | None, router: runtime.Router
) -> CrewOutput:
    """Re-run *crew* from the task *task_id* (see :meth:`Crew.replay`)."""
    from .._crew_run import plan_kickoff, run_crew
    from .._kickoff_callbacks import before_kickoff, callback_inputs
    from ..memory.storage.kickoff_task_outputs_storage import default_storage

    key = check_task_id(task_id)
    position = next((i for i, task in enumerate(crew.tasks) if str(task.id) == key), None)
    store = default_storage()
    source = await store.find_replay_source(key)
    if source is None:
        if position == 0:
            # The first task needs no stored outputs: replaying it is a kickoff.
            return await run_crew(crew, {} if inputs is None else inputs, router)
        raise ReplayError(await _not_found(crew, key, position), task_id=key)
    start = next(task.task_index for task in source.tasks if task.task_id == key)
    _check_fits(crew, key, position, start, source)
    restored = {
        index: restore_output(source, index, crew.tasks[index], key) for index in range(start)
    }
    if inputs is None:
        replay_inputs = source.inputs  # already what the before-kickoff callbacks made
    elif crew.before_kickoff_callbacks:
        # New inputs go through the callbacks, as a kickoff's would (they may fill in
        # values the tasks need).
        replay_inputs = await before_kickoff(crew, callback_inputs(inputs))
    else:
        replay_inputs = dict(inputs)
    checked, plans = plan_kickoff(crew, replay_inputs)
    record = KickoffRecord(crew, checked, plans, restored=restored, replay_of=source.run_id)
    return await run_crew(crew, replay_inputs, router, record=record)


async def _not_found(crew: Crew, key: str, position: int | None) -> str:
    from ..memory.storage.kickoff_task_outputs_storage import default_storage

    if await default_storage().has_task(key):
        return (
            f"no stored kickoff has the outputs of every task before task {key!r}: each "
            "kickoff that reached it failed or was cancelled earlier; replay from an "
            "earlier task, or kick the crew off again"
        )
    what = (
        f"task {position + 1} ({crew.tasks[position].display_name!r}) of crew {crew.name!r}"
        if position is not None
        else f"task {key!r}"
    )
    return (
        f"no stored kickoff has {what}: run crew.kickoff() first (only crews of two or "
        "more tasks with store_task_outputs=True are stored), then replay one of the "
        "task ids that `anycrew log-tasks-outputs` lists"
    )


def _check_fits(
    crew: Crew, key: str, position: int | None, start: int, source: StoredKickoff
) -> None:
    if len(source.tasks) != len(crew.tasks):
        raise ReplayError(
            f"the stored kickoff {source.run_id} with task {key!r} ran {len(source.tasks)} "
            f"tasks but crew {crew.name!r} has {len(crew.tasks)}: replay with the crew "
            "that ran it, or kick this one off first",
            task_id=key,
        )
    if position is not None and position != start:
        raise ReplayError(
            f"task {key!r} is task {position + 1} of crew {crew.name!r} but was task "
            f"{start + 1} of the stored kickoff {source.run_id}: kick the crew off again",
            task_id=key,
        )


def restore_output(source: StoredKickoff, index: int, task: Task, key: str) -> TaskOutput:
    """The stored output of task *index*, its structured output validated again.

    Raises:
        ReplayError: the stored output does not fit the task's output model any more.
    """
    stored = source.tasks[index].output
    assert stored is not None  # the store only returns kickoffs where it is set
    data = dict(stored)
    try:
        model = task.output_model
        structured = data.get("pydantic") if task.output_pydantic else data.get("json_dict")
        data["pydantic"] = data["json_dict"] = None
        data["output_format"] = OutputFormat.RAW
        if model is not None and structured is not None:
            checked: BaseModel = model.model_validate(structured)
            if task.output_pydantic is not None:
                data["pydantic"], data["output_format"] = checked, OutputFormat.PYDANTIC
            else:
                data["json_dict"] = checked.model_dump(mode="json")
                data["output_format"] = OutputFormat.JSON
        return TaskOutput.model_validate(data)
    except (ValidationError, ValueError) as exc:
        raise ReplayError(
            f"the stored output of task {index + 1} ({task.display_name!r}) in kickoff "
            f"{source.run_id} no longer fits the task: {exc}; replay from that task "
            "instead",
            task_id=key,
        ) from exc
