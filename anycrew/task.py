"""Task: a piece of work with an expected output, done by an agent."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SkipValidation,
    field_validator,
    model_validator,
)

from ._callbacks import check_callback
from ._identified import Identified
from ._interpolate import interpolate
from ._output_file import check_output_path, path_problem
from .agent import Agent
from .errors import InvalidInputError
from .tasks.guardrail import Guardrail, GuardrailType, build_guardrails
from .tasks.task_output import TaskOutput


class Task(Identified):
    """One task of a crew.

    ``{placeholders}`` in the description and expected output are filled from the
    kickoff inputs; every kickoff starts again from these templates.

    Args:
        description: what to do.
        expected_output: what the answer should look like.
        agent: who does it (required in a sequential crew).
        name: a short name, used in events and errors.
        context: the tasks whose outputs this task sees. ``None`` (the default) means
            every earlier task; ``[]`` means none.
        async_execution: run concurrently with the following tasks; the next
            synchronous task (or the end of the crew) waits for it.
        callback: called with the TaskOutput when the task completes, before the
            crew's ``task_callback`` (sync or async: async ones are awaited, sync
            ones run in a worker thread). If it raises, the task fails with its error.
        output_pydantic: a pydantic model the answer must fit; the TaskOutput's
            ``pydantic`` holds the validated instance.
        output_json: the same, but the TaskOutput's ``json_dict`` holds the result as
            a dict. Set at most one of the two.
        output_file: a path to write the task's output to once it completes (after
            its callbacks): the raw answer, or indented JSON for ``output_json`` and
            ``output_pydantic`` tasks. Relative to the working directory; it may not
            leave it (no ``..`` out of it, no absolute path elsewhere) and is never
            expanded (no ``~``, no ``$VARS``). ``{placeholders}`` are filled from the
            inputs and the result is checked before the run starts. The file is
            written in a worker thread through a temporary file and a rename, so it
            is never seen half-written.
        create_directory: create the output file's missing directories (default);
            when False a missing directory fails the task with OutputFileError.
        guardrail: a check the output must pass before the task completes: a
            function ``fn(output: TaskOutput) -> tuple[bool, Any]`` (sync or async,
            exactly one parameter) or a string, which the agent's LLM judges the
            output against. ``(False, message)`` sends the agent back to work with
            the message; ``(True, text)`` replaces the raw output, ``(True,
            TaskOutput)`` the whole output, ``(True, other)`` keeps it. See
            :mod:`anycrew.tasks.guardrail`.
        guardrails: several such checks, run in order; after a retry the new answer
            is checked again from the first one. Set ``guardrail`` or
            ``guardrails``, not both.
        guardrail_max_retries: how many times each guardrail may send the agent back
            (default 3); one more failure raises GuardrailError naming the guardrail
            and its last message.
        max_retries: CrewAI's older name for ``guardrail_max_retries`` (deprecated;
            warns and sets it).
        human_input: after the final answer (and the guardrails) ask a human for
            feedback; non-empty feedback makes the agent revise its answer, then the
            human is asked again. Who answers is set in :mod:`anycrew.human_input`
            (default: the console).

    Every attempt of the agent (a guardrail retry, a revision after feedback) emits
    its own agent and LLM events inside the task's events.

    After a kickoff, ``output`` holds the task's latest TaskOutput (concurrent
    kickoffs of one crew each get their own outputs in their CrewOutput).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    description: str
    expected_output: str
    agent: Agent | None = None
    name: str | None = None
    context: list[Task] | None = None
    async_execution: bool = False
    callback: Callable[[TaskOutput], Any] | None = None
    output_pydantic: type[BaseModel] | None = None
    output_json: type[BaseModel] | None = None
    output_file: str | None = None
    create_directory: bool = True
    output: TaskOutput | None = None
    # Checked by _check_guardrails, whose errors name the task and the guardrail.
    guardrail: SkipValidation[GuardrailType | None] = None
    guardrails: SkipValidation[list[GuardrailType] | GuardrailType | None] = None
    guardrail_max_retries: int = Field(default=3, ge=0)
    max_retries: int | None = Field(default=None, ge=0)
    human_input: bool = False

    _guardrails: list[Guardrail] = PrivateAttr(default_factory=list)

    @field_validator("callback", mode="before")
    @classmethod
    def _check_callback(cls, value: Any) -> Any:
        if value is None:
            return None
        return check_callback(value, field="Task callback", argument="the TaskOutput")

    @field_validator("output_file", mode="before")
    @classmethod
    def _check_output_file(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str | os.PathLike):
            raise ValueError(f"Task output_file must be a path (str), got {type(value).__name__}")
        return check_output_path(os.fspath(value), owner="Task")

    @model_validator(mode="after")
    def _one_output_model(self) -> Task:
        if self.output_pydantic is not None and self.output_json is not None:
            raise ValueError(
                f"task {self.display_name!r} sets both output_pydantic and output_json; "
                "choose one (output_pydantic gives a model, output_json a dict)"
            )
        return self

    @model_validator(mode="after")
    def _check_guardrails(self) -> Task:
        self._guardrails = build_guardrails(
            f"task {self.display_name!r}", self.guardrail, self.guardrails
        )
        if self.max_retries is not None:
            warnings.warn(
                "Task(max_retries=...) is deprecated; use guardrail_max_retries=...",
                DeprecationWarning,
                stacklevel=2,
            )
            self.guardrail_max_retries = self.max_retries
        return self

    @property
    def guardrail_checks(self) -> list[Guardrail]:
        """The task's guardrails, validated, in the order they run."""
        return list(self._guardrails)

    @property
    def output_model(self) -> type[BaseModel] | None:
        """The model the answer must fit, if any."""
        return self.output_pydantic or self.output_json

    def __repr__(self) -> str:
        return f"Task(name={self.display_name!r}, agent={getattr(self.agent, 'role', None)!r})"

    @property
    def display_name(self) -> str:
        """The name, else the start of the description."""
        if self.name:
            return self.name
        first = self.description.strip().splitlines()[0] if self.description.strip() else ""
        return first if len(first) <= 60 else first[:57] + "..."

    def interpolated(self, inputs: dict[str, Any]) -> tuple[str, str]:
        """Description and expected output with *inputs* filled in.

        Raises:
            InvalidInputError: if a placeholder has no input.
        """
        return (
            interpolate(self.description, inputs, owner=self._owner, field="description"),
            interpolate(self.expected_output, inputs, owner=self._owner, field="expected_output"),
        )

    def _owner(self) -> str:
        # For error messages: the name is worked out only when one is raised.
        return f"task {self.display_name!r}"

    def interpolated_output_file(self, inputs: dict[str, Any]) -> str | None:
        """The output file's path with *inputs* filled in, checked again.

        Raises:
            InvalidInputError: if a placeholder has no input, or the filled-in path
                would leave the working directory or needs expansion.
        """
        if self.output_file is None:
            return None
        path = interpolate(self.output_file, inputs, owner=self._owner, field="output_file")
        problem = path_problem(path)
        if problem is not None:
            raise InvalidInputError(
                f"{self._owner()} output_file {self.output_file!r} becomes {path!r} with these "
                f"inputs, which {problem}"
            )
        return path
