"""Tool call hooks: the context they receive and the functions that register them.

``from anycrew.hooks.tool_hooks import ToolCallHookContext, register_before_tool_call_hook``
as in CrewAI. A before hook is ``hook(context) -> bool | None`` (False blocks the
call); an after hook is ``hook(context) -> str | None`` (a str replaces the tool's
result). Either may be sync (run in a worker thread) or async (awaited on the run's
event loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _registry

if TYPE_CHECKING:
    from ..tools.base_tool import BaseTool


@dataclass(eq=False)
class ToolCallHookContext:
    """What a tool call hook sees, and may change, about one call.

    Attributes:
        tool_name: the tool's name.
        tool_input: the validated arguments the tool is about to receive; modify
            the dict in place and the tool runs with the change (assigning a new
            dict to the attribute changes nothing).
        tool: the tool itself.
        agent: the Agent calling the tool (None outside an agent).
        task: the Task being worked on (None outside a crew's task).
        crew: the Crew of the run (None outside a crew).
        tool_result: the result as text, for after hooks (None before the call).
            When an after hook returns a str, later after hooks see that str here.
    """

    tool_name: str
    tool_input: dict[str, Any]
    tool: BaseTool
    agent: Any = None
    task: Any = None
    crew: Any = None
    tool_result: str | None = None


BeforeToolCallHook = Callable[[ToolCallHookContext], Any]
AfterToolCallHook = Callable[[ToolCallHookContext], Any]


def register_before_tool_call_hook(hook: BeforeToolCallHook) -> None:
    """Register *hook* to run before every tool call (globally, or in the current scope).

    The hook receives a :class:`ToolCallHookContext`; it may change
    ``context.tool_input`` in place, and returning False blocks the call, which then
    raises :class:`~anycrew.errors.ToolCallBlockedError` (the task and the crew fail).

    Raises:
        TypeError: if *hook* does not take exactly one argument.
    """
    _registry.register("before_tool_call", hook)


def register_after_tool_call_hook(hook: AfterToolCallHook) -> None:
    """Register *hook* to run after every tool call (globally, or in the current scope).

    The hook receives a :class:`ToolCallHookContext` with ``tool_result`` set;
    returning a str replaces the result the agent gets, None keeps it.

    Raises:
        TypeError: if *hook* does not take exactly one argument.
    """
    _registry.register("after_tool_call", hook)


def get_before_tool_call_hooks() -> list[BeforeToolCallHook]:
    """The before-tool-call hooks registered in the current scope (else globally)."""
    return _registry.registered("before_tool_call")


def get_after_tool_call_hooks() -> list[AfterToolCallHook]:
    """The after-tool-call hooks registered in the current scope (else globally)."""
    return _registry.registered("after_tool_call")


def unregister_before_tool_call_hook(hook: BeforeToolCallHook) -> bool:
    """Remove *hook* from the before-tool-call hooks; False if it was not registered."""
    return _registry.unregister("before_tool_call", hook)


def unregister_after_tool_call_hook(hook: AfterToolCallHook) -> bool:
    """Remove *hook* from the after-tool-call hooks; False if it was not registered."""
    return _registry.unregister("after_tool_call", hook)


def clear_before_tool_call_hooks() -> int:
    """Remove every before-tool-call hook (of the current scope, else global); the count."""
    return _registry.clear("before_tool_call")


def clear_after_tool_call_hooks() -> int:
    """Remove every after-tool-call hook (of the current scope, else global); the count."""
    return _registry.clear("after_tool_call")


def clear_all_tool_call_hooks() -> tuple[int, int]:
    """Remove every tool call hook; how many (before, after) there were."""
    return clear_before_tool_call_hooks(), clear_after_tool_call_hooks()
