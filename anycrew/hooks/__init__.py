"""Execution hooks: code that runs before and after every LLM call and tool call.

``from anycrew.hooks import before_llm_call, after_llm_call, before_tool_call,
after_tool_call`` (CrewAI's ``crewai.hooks``). A before hook may change the messages
or the tool input in place, or return False to block the call (the run then fails
with :class:`~anycrew.errors.LLMCallBlockedError` or
:class:`~anycrew.errors.ToolCallBlockedError`); an after hook may return a str that
replaces the response text or the tool result. Hooks are sync (run in a worker
thread) or async (awaited on the run's loop), and run for every entry point:
``akickoff``, ``kickoff``, ``kickoff_async``, streams, and direct ``llm.call`` /
``llm.acall``.

Hooks are global (the decorators and ``register_*`` functions, at module level) or
scoped: inside ``with scoped_hooks():`` they register in a context-local scope that
applies to the runs started in the block, alongside the global hooks, and vanishes
with it.
"""

from ._registry import scoped_hooks as scoped_hooks
from .decorators import after_llm_call as after_llm_call
from .decorators import after_tool_call as after_tool_call
from .decorators import before_llm_call as before_llm_call
from .decorators import before_tool_call as before_tool_call
from .llm_hooks import LLMCallHookContext as LLMCallHookContext
from .llm_hooks import clear_after_llm_call_hooks as clear_after_llm_call_hooks
from .llm_hooks import clear_all_llm_call_hooks as clear_all_llm_call_hooks
from .llm_hooks import clear_before_llm_call_hooks as clear_before_llm_call_hooks
from .llm_hooks import get_after_llm_call_hooks as get_after_llm_call_hooks
from .llm_hooks import get_before_llm_call_hooks as get_before_llm_call_hooks
from .llm_hooks import register_after_llm_call_hook as register_after_llm_call_hook
from .llm_hooks import register_before_llm_call_hook as register_before_llm_call_hook
from .llm_hooks import unregister_after_llm_call_hook as unregister_after_llm_call_hook
from .llm_hooks import unregister_before_llm_call_hook as unregister_before_llm_call_hook
from .tool_hooks import ToolCallHookContext as ToolCallHookContext
from .tool_hooks import clear_after_tool_call_hooks as clear_after_tool_call_hooks
from .tool_hooks import clear_all_tool_call_hooks as clear_all_tool_call_hooks
from .tool_hooks import clear_before_tool_call_hooks as clear_before_tool_call_hooks
from .tool_hooks import get_after_tool_call_hooks as get_after_tool_call_hooks
from .tool_hooks import get_before_tool_call_hooks as get_before_tool_call_hooks
from .tool_hooks import register_after_tool_call_hook as register_after_tool_call_hook
from .tool_hooks import register_before_tool_call_hook as register_before_tool_call_hook
from .tool_hooks import unregister_after_tool_call_hook as unregister_after_tool_call_hook
from .tool_hooks import unregister_before_tool_call_hook as unregister_before_tool_call_hook


def clear_all_global_hooks() -> dict[str, tuple[int, int]]:
    """Remove every LLM and tool call hook (of the current scope, else the global ones).

    Returns:
        How many were removed: ``{"llm_hooks": (before, after), "tool_hooks":
        (before, after), "total": (before, after)}``.
    """
    llm = clear_all_llm_call_hooks()
    tool = clear_all_tool_call_hooks()
    return {
        "llm_hooks": llm,
        "tool_hooks": tool,
        "total": (llm[0] + tool[0], llm[1] + tool[1]),
    }


__all__ = [
    "LLMCallHookContext",
    "ToolCallHookContext",
    "after_llm_call",
    "after_tool_call",
    "before_llm_call",
    "before_tool_call",
    "clear_after_llm_call_hooks",
    "clear_after_tool_call_hooks",
    "clear_all_global_hooks",
    "clear_all_llm_call_hooks",
    "clear_all_tool_call_hooks",
    "clear_before_llm_call_hooks",
    "clear_before_tool_call_hooks",
    "get_after_llm_call_hooks",
    "get_after_tool_call_hooks",
    "get_before_llm_call_hooks",
    "get_before_tool_call_hooks",
    "register_after_llm_call_hook",
    "register_after_tool_call_hook",
    "register_before_llm_call_hook",
    "register_before_tool_call_hook",
    "scoped_hooks",
    "unregister_after_llm_call_hook",
    "unregister_after_tool_call_hook",
    "unregister_before_llm_call_hook",
    "unregister_before_tool_call_hook",
]
