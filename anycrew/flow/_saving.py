"""Where a flow's runs are saved and picked up again.

The ``@persist`` stores a flow saves to, hydrating a kickoff from a saved state (a
resume, continuing an unfinished run after its completed calls, or a fork), and the
record a pause for human feedback leaves behind for ``Flow.from_pending``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ._progress import FlowRun, Resume, checked_records
from .async_feedback.types import HumanFeedbackPending, PendingFeedbackContext, json_safe
from .persistence import FlowPersistence, PersistenceError, default_persistence

if TYPE_CHECKING:
    from .flow import Flow

logger = logging.getLogger("anycrew.flow")


def persist_store(flow: Flow[Any], method: str | None = None) -> FlowPersistence | None:
    """Where *method*'s completion is saved (any store of the flow if *method* is None)."""
    cls = type(flow)
    marker = cls._persisted.get(method) if method else None
    if marker is None:
        marker = getattr(cls, "__flow_persist_all__", None)
    if marker is None and method is None and cls._persisted:
        marker = next(iter(cls._persisted.values()))
    if marker is None:
        return None
    if isinstance(marker, FlowPersistence):
        return marker
    if flow._persistence is None:
        flow._persistence = default_persistence()
    return flow._persistence


def feedback_store(cls: type[Flow[Any]], flow: Flow[Any] | None = None) -> FlowPersistence:
    """Where pauses are saved: the flow's store, the class's @persist store, or SQLite."""
    if flow is not None:
        store = persist_store(flow)
        if store is not None:
            return store
        if flow._persistence is None:
            flow._persistence = default_persistence()
        return flow._persistence
    marker = getattr(cls, "__flow_persist_all__", None)
    if isinstance(marker, FlowPersistence):
        return marker
    for marker in cls._persisted.values():
        if isinstance(marker, FlowPersistence):
            return marker
    return default_persistence()


def restore_state(flow: Flow[Any], snapshot: dict[str, Any]) -> None:
    """Replace the flow's state with a saved *snapshot*."""
    state = flow._state
    flow._state = (
        type(state).model_validate(snapshot) if isinstance(state, BaseModel) else dict(snapshot)
    )


async def hydrate(
    flow: Flow[Any], inputs: Mapping[str, Any] | None, restore: str | None
) -> Resume | None:
    """Load the saved state to resume or fork from; return an unfinished run's progress."""
    store = persist_store(flow)
    wanted = dict(inputs or {})
    source = restore if restore is not None else wanted.get("id")
    if source is None:
        return None
    found = await store.load_snapshot(str(source)) if store is not None else None
    if found is None:
        if restore is not None:
            logger.info("no saved state for flow %r; %s starts afresh", source, flow.name)
        return None
    snapshot, progress = found
    restore_state(flow, snapshot)
    if restore is not None:  # a fork: save under a new id, leaving the source alone
        new_id = wanted.get("id") or str(uuid.uuid4())
        if isinstance(flow._state, dict):
            flow._state["id"] = new_id
        else:
            flow._state.id = new_id
        return None
    if progress is None or progress.get("finished", True):
        return None  # a finished run (or one saved without progress): a new run
    completed = checked_records(str(source), progress)
    logger.info(
        "%s resumes flow %r after %d completed method call(s)", flow.name, source, len(completed)
    )
    return Resume(str(progress.get("run") or uuid.uuid4()), completed, store)


async def save_pause(
    flow: Flow[Any], flow_run: FlowRun, pending: HumanFeedbackPending
) -> dict[str, Any]:
    """Save what the paused *flow* needs to resume; return the state saved (JSON data)."""
    store = feedback_store(type(flow), flow)
    state: dict[str, Any] = json_safe(flow._state)
    record = {
        "context": pending.context.to_dict(),
        "callback_info": json_safe(pending.callback_info),
        "state": state,
        "progress": flow_run.progress(),
    }
    await store.save_pending_feedback(flow.flow_id, record)
    flow._pending = Resume(flow_run.run_id, list(flow_run.completed), store, pending.context)
    return state


def rebuild_paused(
    cls: type[Flow[Any]],
    flow_id: str,
    record: dict[str, Any] | None,
    store: FlowPersistence,
    kwargs: dict[str, Any],
) -> Flow[Any]:
    """A new *cls* flow in the state a pause saved in *record*, waiting for its feedback.

    Raises:
        ValueError: there is no record, or *cls* has no such @human_feedback method.
        PersistenceError: the record is malformed.
    """
    if record is None:
        raise ValueError(
            f"no human feedback is pending for flow {flow_id!r} in {store!r}: it never "
            "paused, was resumed already, or paused in another store (pass persistence=)"
        )
    try:
        context = PendingFeedbackContext.from_dict(record["context"])
        state = record["state"]
        progress = record["progress"]
        completed = checked_records(flow_id, progress)
        if not isinstance(state, dict):
            raise TypeError("the saved state is not an object")
    except (KeyError, TypeError, ValueError) as exc:
        raise PersistenceError(
            f"the pending feedback record of flow {flow_id!r} is malformed ({exc}); "
            "the record is corrupt: delete it or resume from another flow id",
            flow_uuid=flow_id,
        ) from exc
    if context.method_name not in cls._feedback:
        raise ValueError(
            f"flow {flow_id!r} paused at {context.flow_class}.{context.method_name}, "
            f"but {cls.__name__} has no @human_feedback method {context.method_name!r}; "
            "call from_pending on the class that paused"
        )
    flow = cls(persistence=store, **kwargs)
    restore_state(flow, state)
    flow._pending = Resume(str(progress.get("run") or uuid.uuid4()), completed, store, context)
    return flow
