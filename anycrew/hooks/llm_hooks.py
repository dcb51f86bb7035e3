"""LLM call hooks: the context they receive and the functions that register them.

``from anycrew.hooks.llm_hooks import LLMCallHookContext, register_before_llm_call_hook``
as in CrewAI. A before hook is ``hook(context) -> bool | None`` (False blocks the
call); an after hook is ``hook(context) -> str | None`` (a str replaces the response
text). Either may be sync (run in a worker thread, like other user code of a run) or
async (awaited on the run's event loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _registry

if TYPE_CHECKING:
    from ..llms.base_llm import BaseLLM
    from ..llms.types import Message


@dataclass(eq=False)
class LLMCallHookContext:
    """What an LLM call hook sees, and may change, about one call.

    Attributes:
        messages: the messages the LLM is about to receive: the agent's own list,
            so modify it in place (``append``, ``insert``, item assignment) and the
            change is what the LLM sees and stays in the agent's conversation;
            assigning a new list to the attribute changes nothing.
        agent: the Agent making the call (None for a direct ``llm.call``).
        task: the Task being worked on (None outside a crew's task).
        crew: the Crew of the run (None outside a crew).
        llm: the LLM being called.
        iterations: how many LLM calls the agent made on this task before this one.
        response: the response text, for after hooks (None before the call). When
            an after hook returns a str, later after hooks see that str here.
    """

    messages: list[Message]
    llm: BaseLLM
    agent: Any = None
    task: Any = None
    crew: Any = None
    iterations: int = 0
    response: str | None = None


BeforeLLMCallHook = Callable[[LLMCallHookContext], Any]
AfterLLMCallHook = Callable[[LLMCallHookContext], Any]


def register_before_llm_call_hook(hook: BeforeLLMCallHook) -> None:
    """Register *hook* to run before every LLM call (globally, or in the current scope).

    The hook receives an :class:`LLMCallHookContext`; it may change
    ``context.messages`` in place, and returning False blocks the call, which then
    raises :class:`~anycrew.errors.LLMCallBlockedError` (the task and the crew fail).

    Raises:
        TypeError: if *hook* does not take exactly one argument.
    """
    _registry.register("before_llm_call", hook)


def register_after_llm_call_hook(hook: AfterLLMCallHook) -> None:
    """Register *hook* to run after every LLM call (globally, or in the current scope).

    The hook receives an :class:`LLMCallHookContext` with ``response`` set; returning
    a str replaces the response text the caller gets, None keeps it.

    Raises:
        TypeError: if *hook* does not take exactly one argument.
    """
    _registry.register("after_llm_call", hook)


def get_before_llm_call_hooks() -> list[BeforeLLMCallHook]:
    """The before-LLM-call hooks registered in the current scope (else globally)."""
    return _registry.registered("before_llm_call")


def get_after_llm_call_hooks() -> list[AfterLLMCallHook]:
    """The after-LLM-call hooks registered in the current scope (else globally)."""
    return _registry.registered("after_llm_call")


def unregister_before_llm_call_hook(hook: BeforeLLMCallHook) -> bool:
    """Remove *hook* from the before-LLM-call hooks; False if it was not registered."""
    return _registry.unregister("before_llm_call", hook)


def unregister_after_llm_call_hook(hook: AfterLLMCallHook) -> bool:
    """Remove *hook* from the after-LLM-call hooks; False if it was not registered."""
    return _registry.unregister("after_llm_call", hook)


def clear_before_llm_call_hooks() -> int:
    """Remove every before-LLM-call hook (of the current scope, else global); the count."""
    return _registry.clear("before_llm_call")


def clear_after_llm_call_hooks() -> int:
    """Remove every after-LLM-call hook (of the current scope, else global); the count."""
    return _registry.clear("after_llm_call")


def clear_all_llm_call_hooks() -> tuple[int, int]:
    """Remove every LLM call hook; how many (before, after) there were."""
    return clear_before_llm_call_hooks(), clear_after_llm_call_hooks()
