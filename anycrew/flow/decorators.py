"""The flow decorators: @start, @listen, @router, and the or_/and_ conditions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: What a listener can wait for: a method (or its name), a router's label, or a condition.
Trigger = "str | Callable[..., Any] | Condition"


@dataclass(frozen=True, slots=True)
class Condition:
    """Several triggers joined: ``OR`` fires on the first, ``AND`` once all have fired."""

    kind: Literal["OR", "AND"]
    triggers: tuple[str | Condition, ...]

    def names(self) -> set[str]:
        """Every method name or label this condition mentions."""
        found: set[str] = set()
        for trigger in self.triggers:
            found |= trigger.names() if isinstance(trigger, Condition) else {trigger}
        return found

    def satisfied(self, seen: set[str]) -> bool:
        """Whether the triggers in *seen* fulfil the condition."""
        results = (
            t.satisfied(seen) if isinstance(t, Condition) else t in seen for t in self.triggers
        )
        return any(results) if self.kind == "OR" else all(results)


def _normalize(trigger: Any) -> str | Condition:
    if isinstance(trigger, Condition):
        return trigger
    if isinstance(trigger, str):
        if not trigger:
            raise ValueError("a flow trigger name cannot be empty")
        return trigger
    if callable(trigger) and hasattr(trigger, "__name__"):
        return str(trigger.__name__)
    raise TypeError(
        f"a flow trigger is a method, a method name, a router label, or_(...) or and_(...); "
        f"got {trigger!r}"
    )


def _condition(trigger: Any) -> Condition:
    normalized = _normalize(trigger)
    return normalized if isinstance(normalized, Condition) else Condition("OR", (normalized,))


def or_(*triggers: Any) -> Condition:
    """Fire when any of *triggers* has fired (once per cycle)."""
    if not triggers:
        raise ValueError("or_() needs at least one trigger")
    return Condition("OR", tuple(_normalize(t) for t in triggers))


def and_(*triggers: Any) -> Condition:
    """Fire once every one of *triggers* has fired."""
    if not triggers:
        raise ValueError("and_() needs at least one trigger")
    return Condition("AND", tuple(_normalize(t) for t in triggers))


def start(condition: Any = None) -> Callable[[F], F]:
    """Mark a flow method as a start: it runs when the flow is kicked off.

    With a *condition* it also runs, like a listener, whenever that fires.
    """

    def mark(method: F) -> F:
        method.__flow_start__ = True  # type: ignore[attr-defined]
        if condition is not None:
            method.__flow_trigger__ = _condition(condition)  # type: ignore[attr-defined]
        return method

    return mark


def listen(condition: Any) -> Callable[[F], F]:
    """Run the decorated method when *condition* fires.

    *condition* is a method, a method's name, a router's label, or or_/and_ of
    those. The method receives the triggering method's result if it takes a
    parameter.
    """
    normalized = _condition(condition)

    def mark(method: F) -> F:
        method.__flow_trigger__ = normalized  # type: ignore[attr-defined]
        return method

    return mark


def router(condition: Any) -> Callable[[F], F]:
    """A listener whose return value (a str or an Enum) is a label others listen to."""
    normalized = _condition(condition)

    def mark(method: F) -> F:
        method.__flow_trigger__ = normalized  # type: ignore[attr-defined]
        method.__flow_router__ = True  # type: ignore[attr-defined]
        return method

    return mark


def persist(target: Any = None) -> Any:
    """Save the flow's state after methods complete, so a run can resume or fork.

    ``@persist`` on the class saves after every method; on a method, after that
    method. ``@persist(store)`` uses a :class:`FlowPersistence` of your own; the
    default is SQLite in the user's data directory (``ANYCREW_STORAGE_DIR``).
    """
    from .persistence import FlowPersistence

    def apply(obj: Any, store: FlowPersistence | None) -> Any:
        marker = store if store is not None else True
        setattr(
            obj, "__flow_persist_all__" if isinstance(obj, type) else "__flow_persist__", marker
        )
        return obj

    if isinstance(target, FlowPersistence):
        return lambda obj: apply(obj, target)
    if target is None:
        return lambda obj: apply(obj, None)
    return apply(target, None)
