"""Where hooks are registered: the global registry and the context-local scopes.

The hooks in force for a call are the global ones, then those of every
``scoped_hooks()`` block the call's context is inside (outermost first), each set in
registration order. Registering, unregistering and clearing act on the innermost
scope, or on the global registry outside any scope.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, Literal

from .. import runtime
from .._user_code import is_async_callable
from ..tools.base_tool import function_name

Kind = Literal["before_llm_call", "after_llm_call", "before_tool_call", "after_tool_call"]
KINDS: Final[tuple[Kind, ...]] = (
    "before_llm_call",
    "after_llm_call",
    "before_tool_call",
    "after_tool_call",
)


@dataclass(frozen=True, slots=True)
class Hook:
    """One registered hook: the user's function, how to call it and its filters."""

    func: Callable[[Any], Any]
    kind: Kind
    is_async: bool
    agents: frozenset[str] | None = None
    tools: frozenset[str] | None = None

    @property
    def name(self) -> str:
        return hook_name(self.func)

    def applies(self, roles: Sequence[str], tool: str | None = None) -> bool:
        """Whether the filters let this hook see a call by an agent with *roles*.

        *roles* holds the agent's role as written and as filled in from the inputs
        (empty for a call made outside any agent); *tool* is the tool's function name.
        """
        if self.agents is not None and not any(role in self.agents for role in roles):
            return False
        return self.tools is None or (tool is not None and tool in self.tools)


def hook_name(func: Callable[..., Any]) -> str:
    """A readable name for *func*, for error messages."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    return str(name) if name else repr(func)


def _names(kind: Kind, option: str, values: Sequence[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise TypeError(
            f"{kind} {option}= takes a list of names, got the str {values!r}; "
            f"write {option}=[{values!r}] for a single one"
        )
    if not all(isinstance(value, str) for value in values):
        raise TypeError(f"{kind} {option}= takes a list of str, got {values!r}")
    return frozenset(values)


def make_hook(
    kind: Kind,
    func: Callable[[Any], Any],
    *,
    agents: Sequence[str] | None = None,
    tools: Sequence[str] | None = None,
) -> Hook:
    """Check *func* and its filters and describe it as a :class:`Hook`.

    Raises:
        TypeError: if *func* is not callable, does not take exactly one argument (the
            context), or a filter is not a list of str.
    """
    if not callable(func):
        raise TypeError(f"a {kind} hook must be a function taking the context, got {func!r}")
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have none: trust them
        signature = None
    if signature is not None:
        try:
            signature.bind(None)
        except TypeError:
            raise TypeError(
                f"{kind} hook {hook_name(func)!r} must take exactly one argument, the "
                f"context; its signature is {signature}"
            ) from None
    tool_names = _names(kind, "tools", tools)
    return Hook(
        func=func,
        kind=kind,
        is_async=is_async_callable(func),
        agents=_names(kind, "agents", agents),
        tools=None if tool_names is None else frozenset(function_name(n) for n in tool_names),
    )


class HookRegistry:
    """A set of hooks per kind. Thread-safe; reads take no lock (tuples are swapped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[Kind, tuple[Hook, ...]] = dict.fromkeys(KINDS, ())
        #: Whether any LLM hook, or any tool hook, is registered (the fast path's test).
        self.has_llm_hooks = False
        self.has_tool_hooks = False

    def _changed(self) -> None:
        hooks = self._hooks
        self.has_llm_hooks = bool(hooks["before_llm_call"] or hooks["after_llm_call"])
        self.has_tool_hooks = bool(hooks["before_tool_call"] or hooks["after_tool_call"])

    def add(self, hook: Hook) -> None:
        with self._lock:
            self._hooks[hook.kind] = (*self._hooks[hook.kind], hook)
            self._changed()

    def remove(self, kind: Kind, func: Callable[..., Any]) -> bool:
        with self._lock:
            hooks = self._hooks[kind]
            kept = tuple(hook for hook in hooks if hook.func != func)
            self._hooks[kind] = kept
            self._changed()
            return len(kept) != len(hooks)

    def clear(self, kind: Kind) -> int:
        with self._lock:
            count = len(self._hooks[kind])
            self._hooks[kind] = ()
            self._changed()
            return count

    def get(self, kind: Kind) -> tuple[Hook, ...]:
        return self._hooks[kind]


_global = HookRegistry()
_scopes: ContextVar[tuple[HookRegistry, ...]] = ContextVar("anycrew_hook_scopes", default=())
# Runs started in a scope keep its hooks in the helper threads of stream sessions too.
runtime.carry_into_helper_threads(_scopes)


def active_registry() -> HookRegistry:
    """The registry that registration acts on here: the innermost scope's, else the global."""
    scopes = _scopes.get()
    return scopes[-1] if scopes else _global


def registries() -> tuple[HookRegistry, ...] | None:
    """Every registry in force here, global first; None if none of them could hold hooks.

    Scopes count even when empty (a hook may be registered in them later).
    """
    scopes = _scopes.get()
    if scopes:
        return (_global, *scopes)
    return (_global,) if _global.has_llm_hooks or _global.has_tool_hooks else None


def in_force(kind: Kind, found: tuple[HookRegistry, ...]) -> tuple[Hook, ...]:
    """The hooks of *kind* in *found*, in order."""
    if len(found) == 1:
        return found[0].get(kind)
    return tuple(hook for registry in found for hook in registry.get(kind))


def register(
    kind: Kind,
    func: Callable[[Any], Any],
    *,
    agents: Sequence[str] | None = None,
    tools: Sequence[str] | None = None,
) -> None:
    """Check and register *func* as a *kind* hook in the active registry."""
    active_registry().add(make_hook(kind, func, agents=agents, tools=tools))


def unregister(kind: Kind, func: Callable[..., Any]) -> bool:
    """Remove *func* from the *kind* hooks of the active registry; False if it was not there."""
    return active_registry().remove(kind, func)


def clear(kind: Kind) -> int:
    """Remove every *kind* hook of the active registry; how many there were."""
    return active_registry().clear(kind)


def registered(kind: Kind) -> list[Callable[[Any], Any]]:
    """The functions registered as *kind* hooks in the active registry, in order."""
    return [hook.func for hook in active_registry().get(kind)]


@contextmanager
def scoped_hooks() -> Iterator[None]:
    """Hooks registered inside the block apply only to calls made in this context.

    ``with scoped_hooks():`` opens a context-local scope: the hook decorators and
    ``register_*`` functions used inside it register there; the calls of every run
    started inside the block (``akickoff``, ``kickoff``, ``kickoff_async``, direct
    ``llm.call``) see the global hooks and the scope's hooks, while runs in other
    tasks or threads do not see the scope's hooks. When the block ends the scope's
    hooks are gone: later runs do not see them. Scopes nest. Works in sync and
    async code (a scope entered in a task applies to that task and the tasks it
    starts inside the block).
    """
    token = _scopes.set((*_scopes.get(), HookRegistry()))
    try:
        yield
    finally:
        _scopes.reset(token)


scoped_hooks.__module__ = "anycrew.hooks"
