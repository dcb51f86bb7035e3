"""Task guardrails: checks a task's output must pass before the task completes.

A guardrail is a function ``fn(output: TaskOutput) -> tuple[bool, Any]`` (sync or
async), or a string, which becomes an :class:`~anycrew.tasks.llm_guardrail.LLMGuardrail`
judged by the task's agent's LLM. ``(False, message)`` fails the check: the agent is
asked to try again with the message. ``(True, value)`` passes it; *value* may replace
the output:

* a ``str`` replaces the raw text (and is parsed again when the task has an output
  model);
* a ``TaskOutput`` replaces the whole output;
* ``None`` is an error (:class:`~anycrew.errors.GuardrailResultError`), as in CrewAI;
* anything else leaves the output as it was.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..errors import ConfigurationError, GuardrailResultError
from .llm_guardrail import LLMGuardrail
from .task_output import TaskOutput

GuardrailCallable: TypeAlias = Callable[
    [TaskOutput], tuple[bool, Any] | Awaitable[tuple[bool, Any]]
]
"""A function guardrail: takes the TaskOutput, returns ``(passed, value_or_message)``."""

GuardrailType: TypeAlias = GuardrailCallable | str
"""What ``Task(guardrail=...)`` takes: a function, or a requirement in words."""


@dataclass(frozen=True, slots=True)
class Guardrail:
    """One of a task's guardrails, ready to run.

    Attributes:
        check: the function, or the LLMGuardrail built from a string.
        index: its position in the task's guardrails.
        name: a function's name, or an LLM guardrail's text.
        kind: ``"function"`` or ``"llm"``.
    """

    check: GuardrailCallable | LLMGuardrail
    index: int
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    """What one check decided.

    Attributes:
        success: whether the output passed.
        result: on a pass, the value the guardrail returned with it.
        error: on a failure, the guardrail's message.
    """

    success: bool
    result: Any = None
    error: str | None = None

    @classmethod
    def from_tuple(cls, value: Any, guardrail: str) -> GuardrailResult:
        """Read a guardrail's ``(bool, value)`` return.

        Raises:
            GuardrailResultError: for anything but a pair whose first item is a bool,
                and for ``(True, None)``.
        """
        if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool)):
            raise GuardrailResultError(
                f"guardrail {guardrail!r} returned {_excerpt(value)}; a guardrail returns "
                "(True, value) to pass the output or (False, 'what is wrong') to reject it"
            )
        success, data = value
        if success and data is None:
            raise GuardrailResultError(
                f"guardrail {guardrail!r} returned (True, None); return (True, output.raw) "
                "to keep the output, or (True, new_text) to replace it"
            )
        if success:
            return cls(True, result=data)
        return cls(False, error=str(data))


def _excerpt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _name_of(check: Any) -> str:
    if isinstance(check, LLMGuardrail):
        return check.description
    name = getattr(check, "__name__", None)
    return str(name) if name else type(check).__name__


def _check_signature(check: Callable[..., Any], owner: str, name: str) -> None:
    try:
        signature = inspect.signature(check)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to inspect, trust it
    params = list(signature.parameters.values())
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    required_keywords = [p for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    takes_varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    if required_keywords or len(positional) > 1 or (not positional and not takes_varargs):
        shown = ", ".join(p.name for p in positional + required_keywords) or "none"
        raise ConfigurationError(
            f"{owner}: guardrail {name!r} must take exactly one parameter (the TaskOutput), "
            f"but its required parameters are: {shown}; define it as "
            "def check(output: TaskOutput) -> tuple[bool, Any]"
        )


def build_guardrails(owner: str, guardrail: Any, guardrails: Any) -> list[Guardrail]:
    """Validate a task's ``guardrail`` / ``guardrails`` and return them in run order.

    *owner* names the task in errors ("task 'write'").

    Raises:
        ConfigurationError: for both fields set, an entry that is neither a callable
            nor a non-empty string, or a function without exactly one parameter.
    """
    if guardrails is not None and not isinstance(guardrails, str) and not guardrails:
        guardrails = None  # an empty list: no guardrails
    if guardrail is not None and guardrails is not None:
        raise ConfigurationError(
            f"{owner} sets both guardrail and guardrails; put every check in "
            "guardrails=[...] (they run in order)"
        )
    if guardrails is None:
        entries: Sequence[Any] = [] if guardrail is None else [guardrail]
    elif isinstance(guardrails, list | tuple):
        entries = guardrails
    else:
        entries = [guardrails]  # CrewAI accepts a single guardrail here too
    built = []
    for index, entry in enumerate(entries):
        if isinstance(entry, LLMGuardrail):
            built.append(Guardrail(entry, index, entry.description, "llm"))
        elif isinstance(entry, str):
            llm_check = LLMGuardrail(entry)
            built.append(Guardrail(llm_check, index, llm_check.description, "llm"))
        elif callable(entry):
            name = _name_of(entry)
            _check_signature(entry, owner, name)
            built.append(Guardrail(entry, index, name, "function"))
        else:
            raise ConfigurationError(
                f"{owner}: guardrail {index} is {_excerpt(entry)}; a guardrail is a function "
                "(output) -> (bool, value) or a string describing what to check"
            )
    return built
