"""What one kickoff keeps of its tasks: their outputs and timings, stored when it ends.

A :class:`KickoffRecord` is the kickoff's table of task outputs (the engine fills it
as tasks complete, a replay pre-fills the tasks it restores) and, for crews of two
or more tasks, the buffer written to the task-output store once, when the kickoff
ends, whether it completed, failed or was cancelled (a failed run is the main
reason to replay). A crew of one task is never stored: replaying it is kicking it
off again.

Opt out with ``Crew(store_task_outputs=False)`` or, for the whole process,
``ANYCREW_STORE_TASK_OUTPUTS=0``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.lowlevel

from ..errors import AnyCrewError
from ..runtime._ids import new_hex_id
from ..tasks.task_output import TaskOutput

if TYPE_CHECKING:
    from .._crew_run import TaskPlan
    from ..crew import Crew
    from ..memory.storage.kickoff_task_outputs_storage import (
        KickoffStatus,
        StoredKickoff,
        StoredTask,
    )
    from ..runtime import Run

logger = logging.getLogger("anycrew.storage")

#: The longest a kickoff waits, shielded from cancellation, for its outputs to be
#: stored (a worker thread already inside SQLite also finishes its statement, which
#: SQLite's busy timeout bounds).
SAVE_TIMEOUT: Final = 10.0

_OFF: Final = frozenset({"0", "false", "no", "off"})


def storing_enabled() -> bool:
    """False when ``ANYCREW_STORE_TASK_OUTPUTS`` turns the store off for the process."""
    return os.environ.get("ANYCREW_STORE_TASK_OUTPUTS", "").strip().lower() not in _OFF


_NOTHING_RESTORED: frozenset[int] = frozenset()


class KickoffRecord:
    """The task outputs of one kickoff, and their trip to the store when it ends.

    Args:
        crew: the crew kicked off.
        inputs: the kickoff's (validated) inputs.
        plans: the kickoff's task plans.
        restored: outputs a replay takes from a stored kickoff, by task index; those
            tasks do not run.
        replay_of: the run id of the kickoff a replay restores from.
    """

    __slots__ = (
        "_done",
        "crew",
        "durations",
        "inputs",
        "outputs",
        "plans",
        "replay_of",
        "restored",
        "run_id",
        "storing",
    )

    def __init__(
        self,
        crew: Crew,
        inputs: dict[str, Any],
        plans: list[TaskPlan],
        *,
        restored: Mapping[int, TaskOutput] | None = None,
        replay_of: str | None = None,
    ) -> None:
        self.crew = crew
        self.inputs = inputs
        self.plans = plans
        self.outputs: list[TaskOutput | None] = [None] * len(plans)
        self.durations: list[float | None] = [None] * len(plans)
        self.restored = frozenset(restored) if restored else _NOTHING_RESTORED
        if restored:
            for index, output in restored.items():
                self.outputs[index] = output
                plans[index].task.output = output
        self.replay_of = replay_of
        self.run_id = ""
        self.storing = len(plans) > 1 and crew.store_task_outputs and storing_enabled()
        self._done = False

    def start(self, run: Run) -> None:
        """Name the record after its run (a crew run inside another run gets its own id)."""
        self.run_id = run.run_id if run.parent is None else new_hex_id()

    async def finish(self, status: KickoffStatus, error: str | None = None) -> None:
        """Store the kickoff's outputs (once; shielded from cancellation and bounded).

        A store that cannot be written is logged, never raised: the kickoff's own
        result or error is what the caller gets.
        """
        if not self.storing or self._done:
            return
        self._done = True
        from ..memory.storage.kickoff_task_outputs_storage import default_storage

        with anyio.move_on_after(SAVE_TIMEOUT, shield=True) as scope:
            try:
                await default_storage().add(self._stored(status, error))
            except Exception as exc:  # the kickoff's own outcome wins over its record's
                logger.warning(
                    "the task outputs of kickoff %s of crew %r were not stored, so it "
                    "cannot be replayed: %s (set ANYCREW_STORAGE_DIR to a writable "
                    "directory, or opt out with Crew(store_task_outputs=False))",
                    self.run_id,
                    self.crew.name,
                    exc if isinstance(exc, AnyCrewError) else f"{type(exc).__name__}: {exc}",
                )
        if scope.cancelled_caught:
            logger.warning(
                "gave up storing the task outputs of kickoff %s of crew %r after %gs",
                self.run_id,
                self.crew.name,
                SAVE_TIMEOUT,
            )
        if status == "completed":
            # A cancellation that arrived while the save was shielded is the
            # kickoff's: let it take the kickoff's cancellation path.
            await anyio.lowlevel.checkpoint_if_cancelled()

    def _stored(self, status: KickoffStatus, error: str | None) -> StoredKickoff:
        from ..memory.storage.kickoff_task_outputs_storage import StoredKickoff, StoredTask

        tasks: list[StoredTask] = []
        for plan, output, duration in zip(self.plans, self.outputs, self.durations, strict=True):
            tasks.append(
                StoredTask(
                    task_index=plan.index,
                    task_id=str(plan.task.id),
                    task_name=plan.task.name,
                    description=plan.description,
                    expected_output=plan.expected_output,
                    agent=plan.persona.role,
                    output=None if output is None else encode_output(output),
                    restored=plan.index in self.restored,
                    duration=duration,
                )
            )
        return StoredKickoff(
            run_id=self.run_id,
            crew_id=str(self.crew.id),
            crew_name=self.crew.name,
            inputs=self.inputs,
            status=status,
            tasks=tuple(tasks),
            error=error,
            replay_of=self.replay_of,
        )


def encode_output(output: TaskOutput) -> dict[str, Any]:
    """A TaskOutput as JSON data (its pydantic model as a dict of JSON values)."""
    return {
        "description": output.description,
        "name": output.name,
        "expected_output": output.expected_output,
        "summary": output.summary,
        "raw": output.raw,
        "pydantic": None if output.pydantic is None else output.pydantic.model_dump(mode="json"),
        "json_dict": output.json_dict,
        "agent": output.agent,
        "output_format": output.output_format.value,
        "messages": output.messages,
    }
