"""Running the hooks in force around one LLM call or tool call.

The LLM call path (``llms/_invoke.py``) and the tool runner (``tools/_runner.py``)
ask :func:`registries` first: with no hook registered anywhere and no scope open it
returns None, and they skip everything here (the fast path costs one attribute read
and one context-variable lookup).

Hooks run one after another, in order, in the run's task: async hooks are awaited on
the run's loop; sync hooks run in a worker thread through ``runtime.run_sync_in_run``,
like every other piece of user code in a run, so a hook that blocks (asks a human,
calls a service) never stalls the event loop, and a cancelled run waits for it and
tells it through ``anycrew.checkpoint()``. A hook that raises fails the call with its
own exception.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.lowlevel

from .. import runtime
from ..errors import LLMCallBlockedError, ToolCallBlockedError
from ..events._emit import StepObjects, step_agent_role, step_objects
from ._registry import Hook, HookRegistry, in_force
from ._registry import registries as registries
from .llm_hooks import LLMCallHookContext
from .tool_hooks import ToolCallHookContext

if TYPE_CHECKING:
    from ..llms.base_llm import BaseLLM
    from ..llms.types import LLMResponse, Message
    from ..tools.base_tool import BaseTool


async def _call(hook: Hook, context: Any) -> Any:
    if hook.is_async:
        return await hook.func(context)
    result = await runtime.run_sync_in_run(hook.func, context)
    if inspect.isawaitable(result):  # a sync wrapper around something async
        result = await result
    return result


def _roles(objects: StepObjects | None) -> tuple[str, ...]:
    """The agent's role as written and as filled in (empty outside an agent)."""
    agent = objects.agent if objects is not None else None
    if agent is None:
        return ()
    written = getattr(agent, "role", None)
    filled = step_agent_role()
    return tuple(role for role in (written, filled) if isinstance(role, str))


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allows(hook: Hook, verdict: Any) -> bool:
    """Whether a before hook's return value lets the call go ahead."""
    if verdict is None or verdict is True:
        return True
    if verdict is False:
        return False
    raise TypeError(
        f"{hook.kind} hook {hook.name!r} returned {_clip(verdict)}; return False to block the "
        "call, or None (or True) to let it go ahead"
    )


def _replacement(hook: Hook, returned: Any) -> str | None:
    """An after hook's return value: a replacement str, or None to keep what there is."""
    if returned is None or isinstance(returned, str):
        return returned
    what = "response" if hook.kind == "after_llm_call" else "tool result"
    raise TypeError(
        f"{hook.kind} hook {hook.name!r} returned {_clip(returned)}; return a str to replace "
        f"the {what}, or None to keep it"
    )


@dataclass(slots=True)
class PendingLLMCall:
    """An LLM call that passed its before hooks; its after hooks still to run."""

    context: LLMCallHookContext
    after: tuple[Hook, ...]

    async def finish(self, response: LLMResponse) -> LLMResponse:
        """Run the after hooks on *response*; the last str any of them returned replaces
        its text."""
        if not self.after:
            return response
        context = self.context
        context.response = response.text
        for hook in self.after:
            replacement = _replacement(hook, await _call(hook, context))
            if replacement is not None:
                context.response = replacement
        response.text = context.response
        return response


async def before_llm_call(
    found: tuple[HookRegistry, ...], llm: BaseLLM, messages: list[Message]
) -> PendingLLMCall | None:
    """Run the before hooks of an LLM call; None when no hook applies to it.

    Raises:
        LLMCallBlockedError: when a hook returned False.
    """
    objects = step_objects()
    roles = _roles(objects)
    before = tuple(hook for hook in in_force("before_llm_call", found) if hook.applies(roles))
    after = tuple(hook for hook in in_force("after_llm_call", found) if hook.applies(roles))
    if not before and not after:
        return None
    context = LLMCallHookContext(
        messages=messages,
        llm=llm,
        agent=objects.agent if objects else None,
        task=objects.task if objects else None,
        crew=objects.crew if objects else None,
        iterations=objects.llm_calls if objects else 0,
    )
    for hook in before:
        if not _allows(hook, await _call(hook, context)):
            raise LLMCallBlockedError(
                hook_name=hook.name, model=llm.model, agent_role=roles[-1] if roles else None
            )
    if before:
        # A sync hook may have finished after the run was cancelled: no call then.
        await anyio.lowlevel.checkpoint_if_cancelled()
    return PendingLLMCall(context, after)


@dataclass(slots=True)
class PendingToolCall:
    """A tool call that passed its before hooks; its after hooks still to run."""

    context: ToolCallHookContext
    after: tuple[Hook, ...]

    async def finish(self, result: Any) -> Any:
        """Run the after hooks on *result*: the last str any of them returned, else
        *result* itself."""
        if not self.after:
            return result
        context = self.context
        context.tool_result = str(result)
        replaced = False
        for hook in self.after:
            replacement = _replacement(hook, await _call(hook, context))
            if replacement is not None:
                context.tool_result = replacement
                replaced = True
        return context.tool_result if replaced else result


async def before_tool_call(
    found: tuple[HookRegistry, ...], tool: BaseTool, arguments: dict[str, Any]
) -> PendingToolCall | None:
    """Run the before hooks of a tool call; None when no hook applies to it.

    Raises:
        ToolCallBlockedError: when a hook returned False.
    """
    objects = step_objects()
    roles = _roles(objects)
    name = tool.function_name
    before = tuple(h for h in in_force("before_tool_call", found) if h.applies(roles, name))
    after = tuple(h for h in in_force("after_tool_call", found) if h.applies(roles, name))
    if not before and not after:
        return None
    context = ToolCallHookContext(
        tool_name=tool.name,
        tool_input=arguments,
        tool=tool,
        agent=objects.agent if objects else None,
        task=objects.task if objects else None,
        crew=objects.crew if objects else None,
    )
    for hook in before:
        if not _allows(hook, await _call(hook, context)):
            raise ToolCallBlockedError(
                hook_name=hook.name, tool_name=tool.name, agent_role=roles[-1] if roles else None
            )
    if before:
        await anyio.lowlevel.checkpoint_if_cancelled()
    return PendingToolCall(context, after)
