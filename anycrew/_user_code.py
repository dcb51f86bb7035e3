"""Calling the user's functions (callbacks, guardrails, conditions, providers) from a run."""

from __future__ import annotations

import inspect
from typing import Any

from . import runtime


async def call_user(callback: Any, *args: Any) -> Any:
    """Call a user callback: await it if async, else run it in a worker thread."""
    if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)  # noqa: B004
    ):
        # A coroutine that never awaits would otherwise run in a cancelled run.
        await runtime.checkpoint_if_cancelled()
        return await callback(*args)
    result = await runtime.run_sync_in_run(callback, *args)
    if inspect.isawaitable(result):
        return await result
    return result
