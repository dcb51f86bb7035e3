"""ConditionalTask: a task that runs only when the previous task's output allows it."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import model_validator

from ..errors import ConfigurationError
from ..task import Task
from .output_format import OutputFormat
from .task_output import TaskOutput

Condition = Callable[[TaskOutput], bool | Awaitable[bool]]


class ConditionalTask(Task):
    """A task that runs only if ``condition(previous_output)`` is true.

    The condition gets the output of the task just before this one (the crew first
    waits for any async tasks still running) and may be sync (run in a worker
    thread) or async. When it is false the task is skipped: its output is an empty
    TaskOutput, a TaskSkippedEvent is emitted, and the crew goes on with the next
    task. A crew's final output is the last output that is not empty.

    Crew validation (as in CrewAI): a ConditionalTask cannot be a crew's first task
    and cannot be ``async_execution=True``.

    Args:
        condition: ``fn(previous_output: TaskOutput) -> bool``, exactly one parameter.
        **kwargs: the fields of :class:`~anycrew.Task`.

    Raises:
        pydantic.ValidationError: when *condition* is missing, not callable or does
            not take exactly one parameter.
    """

    condition: Callable[..., Any] | None = None

    @model_validator(mode="after")
    def _check_condition(self) -> ConditionalTask:
        owner = f"conditional task {self.display_name!r}"
        if self.condition is None or not callable(self.condition):
            raise ConfigurationError(
                f"{owner} needs condition=fn, a function of the previous task's output "
                f"that returns True to run the task; got {self.condition!r}"
            )
        try:
            signature = inspect.signature(self.condition)
        except (TypeError, ValueError):
            return self
        try:
            signature.bind(None)
        except TypeError:
            raise ConfigurationError(
                f"{owner}: its condition must take exactly one parameter (the previous "
                f"task's TaskOutput); its signature is {signature}"
            ) from None
        return self

    def should_execute(self, context: TaskOutput) -> bool:
        """Whether the task runs, given the previous task's output (sync conditions only).

        Raises:
            TypeError: for an async condition (the crew awaits those itself).
        """
        assert self.condition is not None  # the validator guarantees it
        decision = self.condition(context)
        if inspect.isawaitable(decision):
            close = getattr(decision, "close", None)
            if close is not None:
                close()
            raise TypeError(
                f"the condition of task {self.display_name!r} is async; should_execute() "
                "only runs sync conditions (a crew awaits async ones)"
            )
        return bool(decision)

    def get_skipped_task_output(self) -> TaskOutput:
        """The empty output a skipped task gets."""
        return TaskOutput(
            description=self.description,
            name=self.name,
            expected_output=self.expected_output,
            raw="",
            agent=self.agent.role if self.agent is not None else "",
            output_format=OutputFormat.RAW,
        )
