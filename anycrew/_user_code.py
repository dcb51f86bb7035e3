"""Calling the user's functions (callbacks, guardrails, conditions, providers) from a run."""

from __future__ import annotations

import inspect
from typing import Any

from . import runtime


def is_async_callable(func: Any) -> bool:
    """Whether calling *func* gives a coroutine: an async function, or an object with
    an async ``__call__``."""
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


async def call_user(callback: Any, *args: Any) -> Any:
    """Call a user callback: await it if async, else run it in a worker thread."""
    if is_async_callable(callback):
        # A coroutine that never awaits would otherwise run in a cancelled run.
        await runtime.checkpoint_if_cancelled()
        return await callback(*args)
    result = await runtime.run_sync_in_run(callback, *args)
    if inspect.isawaitable(result):
        return await result
    return result
