"""The callbacks around a kickoff and around each task, in CrewAI's order.

* before the kickoff: ``Crew.before_kickoff_callbacks`` in order, each given the
  inputs and returning them (changed or not); the tasks see what the last returns;
* after each task: ``Task.callback``, then ``Crew.task_callback``, then the task's
  ``output_file`` is written;
* after the kickoff: ``Crew.after_kickoff_callbacks`` in order, each given the
  CrewOutput and returning a replacement (None keeps it).

All run inside the run (see :func:`anycrew._user_code.call_user`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._callbacks import current_crew_callbacks, describe_callback
from ._interpolate import validate_inputs
from ._output_file import write_output_file
from ._user_code import call_user
from .crews.crew_output import CrewOutput
from .errors import CallbackError, InvalidInputError
from .tasks.task_output import TaskOutput

if TYPE_CHECKING:
    from .crew import Crew
    from .task import Task


def callback_inputs(inputs: Any) -> dict[str, Any]:
    """The inputs as the first before-kickoff callback gets them: a new dict.

    Only their shape is checked here (a mapping, or None for ``{}``): the values
    are checked once the callbacks are done, so a callback may turn values
    kickoff inputs cannot hold (a datetime, say) into ones they can.

    Raises:
        InvalidInputError: if *inputs* is neither a mapping nor None.
    """
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise InvalidInputError(
            f"inputs must be a dict of names to values, got {type(inputs).__name__}"
        )
    return dict(inputs)


async def before_kickoff(crew: Crew, inputs: dict[str, Any]) -> dict[str, Any]:
    """Pass *inputs* through the crew's before-kickoff callbacks; return the result.

    A callback may change the dict in place and return None, or return a new one.

    Raises:
        CallbackError: if a callback returns something other than a mapping or None.
        InvalidInputError: if the inputs the last callback leaves hold values inputs
            may not hold.
    """
    for position, callback in enumerate(crew.before_kickoff_callbacks):
        returned = await call_user(callback, inputs)
        if returned is None:
            continue
        if not isinstance(returned, Mapping):
            raise CallbackError(
                f"before_kickoff_callbacks[{position}] ({describe_callback(callback)!r}) "
                f"returned {type(returned).__name__}; return the inputs dict (changed or "
                "not), or None to keep it"
            )
        inputs = dict(returned)
    return validate_inputs(inputs)


async def after_kickoff(crew: Crew, result: CrewOutput) -> CrewOutput:
    """Pass *result* through the crew's after-kickoff callbacks; return the result.

    Raises:
        CallbackError: if a callback returns something other than a CrewOutput or None.
    """
    for position, callback in enumerate(crew.after_kickoff_callbacks):
        returned = await call_user(callback, result)
        if returned is None:
            continue
        if not isinstance(returned, CrewOutput):
            raise CallbackError(
                f"after_kickoff_callbacks[{position}] ({describe_callback(callback)!r}) "
                f"returned {type(returned).__name__}; return a CrewOutput to replace the "
                "result, or None to keep it"
            )
        result = returned
    return result


def has_after_task(task: Task, output_file: str | None) -> bool:
    """Whether :func:`after_task` has anything to do (most tasks: no coroutine)."""
    return (
        task.callback is not None
        or output_file is not None
        or current_crew_callbacks().task is not None
    )


async def after_task(task: Task, output: TaskOutput, output_file: str | None) -> None:
    """The task's callback, the crew's task callback, then the output file."""
    if task.callback is not None:
        await call_user(task.callback, output)
    crew_callback = current_crew_callbacks().task
    # The same function given to both is called once, as in CrewAI.
    if crew_callback is not None and crew_callback != task.callback:
        await call_user(crew_callback, output)
    if output_file is not None:
        await write_output_file(output_file, output, task.create_directory)
