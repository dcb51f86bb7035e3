"""The hook decorators: ``@before_llm_call``, ``@after_llm_call``, ``@before_tool_call``,
``@after_tool_call``, used bare or with filters, as in CrewAI.

Each registers the function (globally, or in the current ``scoped_hooks()`` block)
and returns it unchanged, so ``unregister_*`` takes the decorated function, filters
or not. Filters: ``agents=[role, ...]`` runs the hook only for calls made by agents
with one of these roles (as written, or as filled in from the inputs);
``tools=[name, ...]`` only for calls to these tools (names compared as function
names: case, spaces and punctuation do not matter). Calls made outside any agent
(a direct ``llm.call``) never match an ``agents=`` filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from . import _registry

F = TypeVar("F", bound=Callable[[Any], Any])


def _decorate(
    kind: _registry.Kind,
    func: F | None,
    agents: Sequence[str] | None,
    tools: Sequence[str] | None = None,
) -> F | Callable[[F], F]:
    def decorator(hook: F) -> F:
        _registry.register(kind, hook, agents=agents, tools=tools)
        return hook

    if func is None:
        # Check the filters now, so that a mistake points at the decorator line.
        _registry.make_hook(kind, lambda _context: None, agents=agents, tools=tools)
        return decorator
    return decorator(func)


@overload
def before_llm_call(func: F, /) -> F: ...
@overload
def before_llm_call(*, agents: Sequence[str] | None = None) -> Callable[[F], F]: ...
def before_llm_call(
    func: F | None = None, /, *, agents: Sequence[str] | None = None
) -> F | Callable[[F], F]:
    """Register the decorated ``hook(context)`` to run before every LLM call.

    The hook gets an :class:`~anycrew.hooks.LLMCallHookContext`; it may change
    ``context.messages`` in place, and returning False blocks the call (the run fails
    with :class:`~anycrew.errors.LLMCallBlockedError`). Sync hooks run in a worker
    thread, async ones are awaited.

    Args:
        func: the hook, when used bare (``@before_llm_call``).
        agents: only for calls by agents with one of these roles.

    Raises:
        TypeError: if the hook does not take exactly one argument, or a filter is
            not a list of str.
    """
    return _decorate("before_llm_call", func, agents)


@overload
def after_llm_call(func: F, /) -> F: ...
@overload
def after_llm_call(*, agents: Sequence[str] | None = None) -> Callable[[F], F]: ...
def after_llm_call(
    func: F | None = None, /, *, agents: Sequence[str] | None = None
) -> F | Callable[[F], F]:
    """Register the decorated ``hook(context)`` to run after every LLM call.

    ``context.response`` holds the response text; returning a str replaces it,
    None keeps it. Sync hooks run in a worker thread, async ones are awaited.

    Args:
        func: the hook, when used bare (``@after_llm_call``).
        agents: only for calls by agents with one of these roles.

    Raises:
        TypeError: if the hook does not take exactly one argument, or a filter is
            not a list of str.
    """
    return _decorate("after_llm_call", func, agents)


@overload
def before_tool_call(func: F, /) -> F: ...
@overload
def before_tool_call(
    *, tools: Sequence[str] | None = None, agents: Sequence[str] | None = None
) -> Callable[[F], F]: ...
def before_tool_call(
    func: F | None = None,
    /,
    *,
    tools: Sequence[str] | None = None,
    agents: Sequence[str] | None = None,
) -> F | Callable[[F], F]:
    """Register the decorated ``hook(context)`` to run before every tool call.

    The hook gets a :class:`~anycrew.hooks.ToolCallHookContext`; it may change
    ``context.tool_input`` in place, and returning False blocks the call (the run
    fails with :class:`~anycrew.errors.ToolCallBlockedError`). Sync hooks run in a
    worker thread, async ones are awaited.

    Args:
        func: the hook, when used bare (``@before_tool_call``).
        tools: only for calls to these tools.
        agents: only for calls by agents with one of these roles.

    Raises:
        TypeError: if the hook does not take exactly one argument, or a filter is
            not a list of str.
    """
    return _decorate("before_tool_call", func, agents, tools)


@overload
def after_tool_call(func: F, /) -> F: ...
@overload
def after_tool_call(
    *, tools: Sequence[str] | None = None, agents: Sequence[str] | None = None
) -> Callable[[F], F]: ...
def after_tool_call(
    func: F | None = None,
    /,
    *,
    tools: Sequence[str] | None = None,
    agents: Sequence[str] | None = None,
) -> F | Callable[[F], F]:
    """Register the decorated ``hook(context)`` to run after every tool call.

    ``context.tool_result`` holds the result as text; returning a str replaces the
    result the agent gets, None keeps it. Sync hooks run in a worker thread, async
    ones are awaited.

    Args:
        func: the hook, when used bare (``@after_tool_call``).
        tools: only for calls to these tools.
        agents: only for calls by agents with one of these roles.

    Raises:
        TypeError: if the hook does not take exactly one argument, or a filter is
            not a list of str.
    """
    return _decorate("after_tool_call", func, agents, tools)
