"""User callbacks: checked when configured, and the crew's ones found during a run.

They are called with :func:`anycrew._user_code.call_user`: async ones are awaited on
the run's loop; sync ones run in a worker thread of the run, so a blocking callback
never stalls the loop and a ``crew.kickoff()`` inside one nests in the run. The
crew's task and step callbacks reach the code that calls them through a context
variable bound for the length of a kickoff, so a crew nested inside another uses
its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from . import runtime

#: A user callback: a function (or callable object), sync or async.
Callback = Callable[..., Any]


def describe_callback(callback: object) -> str:
    """A short name for *callback* in error messages."""
    inner = getattr(callback, "func", callback)  # a functools.partial names its function
    name = getattr(inner, "__name__", None)
    return str(name) if name else type(callback).__name__


def check_callback(value: object, *, field: str, argument: str) -> Callback:
    """Check that *value* can be called with one positional argument.

    Args:
        value: what the user passed.
        field: the field's name as the user wrote it (``"Crew task_callback"``).
        argument: what the callback receives, for the message (``"the TaskOutput"``).

    Raises:
        ValueError: naming *field*, if *value* is not callable or cannot take exactly
            one positional argument.
    """
    if not callable(value):
        raise ValueError(
            f"{field} must be a function (sync or async) taking {argument}, "
            f"got {type(value).__name__} {value!r}"
        )
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return value  # some builtins have no signature; accept them as they are
    try:
        signature.bind(object())
    except TypeError:
        raise ValueError(
            f"{field} {describe_callback(value)!r} must accept one positional argument "
            f"({argument}), but its signature is {signature}; define it as "
            "def callback(value): ..."
        ) from None
    return value


def check_callbacks(value: object, *, field: str, argument: str) -> list[Callback]:
    """Check a list of callbacks (see :func:`check_callback`); returns a new list.

    Raises:
        ValueError: naming *field* and the position, if *value* is not a list of them.
    """
    if value is None:
        return []
    if callable(value) or isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValueError(
            f"{field} must be a list of functions taking {argument}, got "
            f"{type(value).__name__}; wrap a single function in a list: [callback]"
        )
    return [
        check_callback(item, field=f"{field}[{position}]", argument=argument)
        for position, item in enumerate(value)
    ]


@dataclass(frozen=True, slots=True)
class CrewCallbacks:
    """The crew-level callbacks in force during one kickoff."""

    task: Callback | None = None
    step: Callback | None = None


_NO_CALLBACKS = CrewCallbacks()
_crew_callbacks: ContextVar[CrewCallbacks] = ContextVar(
    "anycrew_crew_callbacks", default=_NO_CALLBACKS
)


def crew_callbacks(
    task: Callback | None, step: Callback | None
) -> runtime.bind[CrewCallbacks] | None:
    """Make *task* and *step* the crew callbacks of the code inside the block.

    None when both are None: there is nothing to bind (for :func:`runtime.bind_all`);
    a crew inside a crew that has callbacks then sets its own, empty ones.
    """
    if task is None and step is None and _crew_callbacks.get() is _NO_CALLBACKS:
        return None
    return runtime.bind(_crew_callbacks, CrewCallbacks(task, step))


def current_crew_callbacks() -> CrewCallbacks:
    """The crew callbacks of the kickoff in progress (none outside a kickoff)."""
    return _crew_callbacks.get()
