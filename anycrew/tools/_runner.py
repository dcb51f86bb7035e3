"""Running the tool calls of one agent step: lookup, validation, limits, cache, events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import ValidationError

from .. import runtime
from ..errors import CallBlockedError
from ..events._emit import emit
from ..events.tool_events import (
    ToolExecutionErrorEvent,
    ToolSelectionErrorEvent,
    ToolUsageErrorEvent,
    ToolUsageFinishedEvent,
    ToolUsageStartedEvent,
    ToolValidateInputErrorEvent,
)
from ..hooks import _run as hooks
from ..llms._invoke import describe_error
from ..llms.types import ToolCall
from .base_tool import BaseTool


@dataclass
class RunToolState:
    """What one kickoff remembers about tools: usage counts and (optionally) results."""

    cache_enabled: bool = True
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)
    usage: dict[int, int] = field(default_factory=dict)


_state: ContextVar[RunToolState | None] = ContextVar("anycrew_tool_state", default=None)


def tool_state(cache: bool) -> runtime.bind[RunToolState | None]:
    """Give the tool calls made inside the block one shared usage count and cache."""
    return runtime.bind(_state, RunToolState(cache_enabled=cache))


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a tool call gave back to the agent."""

    call: ToolCall
    observation: str
    result: Any = None
    as_answer: bool = False


class ToolBelt:
    """An agent's tools for one step, found by name (as written or as a function name)."""

    def __init__(self, tools: Sequence[BaseTool], source: Any) -> None:
        self.tools = list(tools)
        self._source = source
        # Outside a crew's kickoff, limits count per agent step and nothing is cached.
        self._state = _state.get() or RunToolState(cache_enabled=False)
        self._by_name: dict[str, BaseTool] = {}
        for item in self.tools:
            self._by_name[item.function_name] = item
            self._by_name[item.name.strip().lower()] = item

    def schemas(self) -> list[dict[str, Any]]:
        return [item.function_schema() for item in self.tools]

    def find(self, name: str) -> BaseTool | None:
        cleaned = name.strip().strip("`'\"").lower()
        return self._by_name.get(cleaned)

    async def run_all(self, calls: Sequence[ToolCall]) -> list[ToolOutcome]:
        """Run *calls* concurrently (each a child task of this step); outcomes in order."""
        if len(calls) == 1:
            return [await self.run(calls[0])]
        outcomes: list[ToolOutcome | None] = [None] * len(calls)

        async def one(position: int, call: ToolCall) -> None:
            outcomes[position] = await self.run(call)

        try:
            async with anyio.create_task_group() as tg:
                for position, call in enumerate(calls):
                    tg.start_soon(one, position, call, name=f"tool {call.name}")
        except BaseExceptionGroup as group:  # a hook blocked or raised
            raise runtime.unwrap_group(group) from None
        return [outcome for outcome in outcomes if outcome is not None]

    async def run(self, call: ToolCall) -> ToolOutcome:
        """Run one call. Mistakes the model can fix come back as observations."""
        state = self._state
        source = self._source
        chosen = self.find(call.name)
        if chosen is None:
            available = ", ".join(item.name for item in self.tools)
            message = f"there is no tool named {call.name!r}; the tools are: {available}"
            await emit(source, ToolSelectionErrorEvent(tool_name=call.name, error=message))
            return ToolOutcome(
                call, f"Error: {message}. Use one of them, or give your final answer."
            )

        arguments, problem = _parse_arguments(chosen, call.arguments)
        labels: dict[str, Any] = {
            "tool_name": chosen.name,
            "tool_class": type(chosen).__name__,
            "tool_args": arguments if arguments is not None else call.arguments,
        }
        if arguments is None:
            await emit(source, ToolValidateInputErrorEvent(**labels, error=problem))
            return ToolOutcome(
                call, f"Error: {problem}. Call {chosen.name} again with valid arguments."
            )

        used = state.usage.get(id(chosen), 0)
        if chosen.max_usage_count is not None and used >= chosen.max_usage_count:
            message = f"tool {chosen.name!r} reached its usage limit of {chosen.max_usage_count}"
            await emit(source, ToolUsageErrorEvent(**labels, error=message))
            return ToolOutcome(call, f"Error: {message}; do without it.")

        pending = None
        found = hooks.registries()
        if found is not None:
            # The hooks may change the arguments in place: the cache key, the events
            # and the tool all see them as the hooks left them.
            pending = await hooks.before_tool_call(found, chosen, arguments)

        key = (chosen.function_name, json.dumps(arguments, sort_keys=True, default=str))
        if state.cache_enabled and key in state.cache:
            result = state.cache[key]
            await emit(source, ToolUsageStartedEvent(**labels))
            await emit(source, ToolUsageFinishedEvent(**labels, output=result, from_cache=True))
            if pending is not None:
                result = await pending.finish(result)
            return ToolOutcome(call, str(result), result, chosen.result_as_answer)

        # No tool starts once the run (or a worker loop's host) is cancelled.
        await runtime.checkpoint_if_cancelled()
        state.usage[id(chosen)] = used + 1
        started = await emit(source, ToolUsageStartedEvent(**labels, run_attempts=used + 1))
        try:
            # What the tool emits (a coworker it delegates to) nests under its start.
            with runtime.span(started.event_id):
                result = await chosen.ainvoke(arguments)
        except CallBlockedError as exc:
            # A hook's veto fails the run, even for a call made inside a tool; the
            # tool's span still closes.
            await emit(source, ToolUsageErrorEvent(**labels, error=describe_error(exc)))
            raise
        except Exception as exc:
            error = describe_error(exc)
            await emit(source, ToolExecutionErrorEvent(**labels, error=error))
            await emit(source, ToolUsageErrorEvent(**labels, error=error))
            return ToolOutcome(call, f"Error: the tool failed: {error}")
        if state.cache_enabled and chosen.cache_function(arguments, result):
            state.cache[key] = result
        await emit(source, ToolUsageFinishedEvent(**labels, output=result))
        if pending is not None:
            result = await pending.finish(result)
        return ToolOutcome(call, str(result), result, chosen.result_as_answer)


def _parse_arguments(chosen: BaseTool, raw: str) -> tuple[dict[str, Any] | None, str]:
    """The validated arguments, or None and what is wrong with them."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        return None, f"the arguments for {chosen.name} are not valid JSON ({exc.msg})"
    if not isinstance(value, dict):
        return None, f"the arguments for {chosen.name} must be a JSON object, got {raw!r}"
    assert chosen.args_schema is not None
    try:
        validated = chosen.args_schema.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'arguments'}: {error['msg']}"
            for error in exc.errors()
        )
        return None, f"the arguments for {chosen.name} do not fit its schema ({problems})"
    return dict(validated), ""
