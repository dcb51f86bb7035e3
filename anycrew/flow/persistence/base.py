"""The persistence seam for ``@persist``: one abstract base, its error, and the shared checks.

A backend stores, per flow id, an ordered history of ``(method_name, state)`` snapshots
and at most one pending human-feedback context. The checks and the JSON coding here are
free of I/O so every backend validates and encodes the same way and raises the same
errors; a backend only moves the encoded text.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, Final

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from anycrew._storage import storage_dir as storage_dir
from anycrew._storage import user_data_dir as user_data_dir
from anycrew.errors import AnyCrewError

#: The longest flow id a backend accepts.
MAX_FLOW_UUID_LENGTH: Final = 200

_JSON_SCALARS: Final = (str, int, float, bool, type(None))


class PersistenceError(AnyCrewError):
    """A flow's state could not be saved or loaded.

    Raised for a state that is not JSON-serialisable (nothing is written), for stored
    data that cannot be read back, and for storage failures (the original error is the
    ``__cause__``).

    Attributes:
        flow_uuid: the flow id concerned, when there is one.
        field: the path of the offending field inside the state (``"user.tags[2]"``),
            when it could be found.
    """

    def __init__(self, message: str, *, flow_uuid: str | None = None, field: str | None = None):
        super().__init__(message)
        self.flow_uuid = flow_uuid
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only attributes are not in ``args``; carry them as state so the
        # error survives pickling (thread and process boundaries).
        return (type(self), self.args, dict(vars(self)))


def validate_flow_uuid(flow_uuid: object) -> str:
    """Return *flow_uuid* if it is a usable flow id.

    Raises:
        ValueError: it is not a non-empty ``str`` of at most 200 characters.
    """
    if isinstance(flow_uuid, str) and 0 < len(flow_uuid) <= MAX_FLOW_UUID_LENGTH:
        return flow_uuid
    if isinstance(flow_uuid, str) and flow_uuid:
        shown = f"{flow_uuid[:40]!r}... ({len(flow_uuid)} characters)"
    else:
        shown = repr(flow_uuid)
    raise ValueError(
        f"invalid flow_uuid {shown}: pass a non-empty str of at most "
        f"{MAX_FLOW_UUID_LENGTH} characters (the flow's state.id)"
    )


def encode_json(flow_uuid: str, value: dict[str, Any] | BaseModel, what: str = "state") -> str:
    """Encode a state (or feedback context) as JSON text; pydantic models in JSON mode.

    Raises:
        PersistenceError: the value is not a dict/model or holds something JSON cannot
            represent; the message names the flow id and, where found, the field.
    """
    if isinstance(value, BaseModel):
        try:
            value = value.model_dump(mode="json")
        except PydanticSerializationError as exc:
            raise PersistenceError(
                f"cannot save the {what} of flow {flow_uuid!r}: {exc}; "
                "make every field JSON-serialisable (or exclude it)",
                flow_uuid=flow_uuid,
            ) from exc
    if not isinstance(value, dict):
        raise PersistenceError(
            f"cannot save the {what} of flow {flow_uuid!r}: expected a dict or a pydantic "
            f"model, got {type(value).__name__}",
            flow_uuid=flow_uuid,
        )
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        # Only a failed dump pays for the walk that finds the culprit.
        path, problem = _locate(value, "", set()) or ("", str(exc))
        raise PersistenceError(
            f"cannot save the {what} of flow {flow_uuid!r}: "
            + (f"field {path!r} {problem}" if path else problem)
            + "; store plain data (str, numbers, bools, None, lists, dicts with str keys)",
            flow_uuid=flow_uuid,
            field=path or None,
        ) from exc


def decode_json(flow_uuid: str, text: object, what: str = "state") -> dict[str, Any]:
    """Decode stored JSON text back into a dict.

    Raises:
        PersistenceError: the stored data is not a JSON object (corrupt or foreign data).
    """
    try:
        if not isinstance(text, str | bytes):
            raise TypeError(f"stored value is a {type(text).__name__}, not text")
        value = json.loads(text)
        if not isinstance(value, dict):
            raise TypeError(f"stored JSON is a {type(value).__name__}, not an object")
    except (TypeError, ValueError, RecursionError) as exc:
        raise PersistenceError(
            f"the stored {what} of flow {flow_uuid!r} is unreadable ({exc}); the record "
            "is corrupt: delete it or resume from another flow id",
            flow_uuid=flow_uuid,
        ) from exc
    return value


def _locate(value: object, path: str, open_ids: set[int]) -> tuple[str, str] | None:
    """The path of the first thing ``json.dumps`` rejects, and what is wrong with it."""
    if isinstance(value, _JSON_SCALARS):
        return None
    if not isinstance(value, dict | list | tuple):
        return path or "<root>", f"holds a {type(value).__name__}, which is not JSON-serialisable"
    if id(value) in open_ids:
        return path or "<root>", "refers back to a container that holds it (a cycle)"
    if len(open_ids) > 500:  # deeper than json.dumps goes without a RecursionError
        return path, "is nested too deeply"
    open_ids.add(id(value))
    try:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(value, dict):
                if not isinstance(key, _JSON_SCALARS):
                    return f"{path}[{key!r}]", f"has a {type(key).__name__} key, not a str"
                where = f"{path}.{key}" if path else str(key)
            else:
                where = f"{path}[{key}]"
            found = _locate(item, where, open_ids)
            if found is not None:
                return found
        return None
    finally:
        open_ids.discard(id(value))


class FlowPersistence(ABC):
    """Where ``@persist`` keeps flow states: the one seam every storage backend implements.

    A backend keeps, per flow id, the ordered history of ``(method_name, state)``
    snapshots, and at most one pending human-feedback context. Every method is async
    and may block on storage; every flow id goes through :func:`validate_flow_uuid` and
    every state through :func:`encode_json`, so backends agree on what they accept.
    ``anycrew.flow.persistence.default_persistence()`` picks the default backend.
    """

    @abstractmethod
    async def save_state(
        self, flow_uuid: str, method_name: str, state: dict[str, Any] | BaseModel
    ) -> None:
        """Append a snapshot of *state*, taken after *method_name* ran, atomically.

        Raises:
            ValueError: a bad flow id or method name.
            PersistenceError: the state is not JSON-serialisable (nothing is written),
                or storage failed.
        """

    @abstractmethod
    async def load_state(self, flow_uuid: str) -> dict[str, Any] | None:
        """The latest saved state of the flow, or ``None`` if it has none.

        Raises:
            ValueError: a bad flow id.
            PersistenceError: the stored state is unreadable, or storage failed.
        """

    @abstractmethod
    async def save_pending_feedback(self, flow_uuid: str, context: dict[str, Any]) -> None:
        """Record (or replace) the context of the human feedback the flow waits for.

        Raises:
            ValueError: a bad flow id.
            PersistenceError: the context is not JSON-serialisable, or storage failed.
        """

    @abstractmethod
    async def load_pending_feedback(self, flow_uuid: str) -> dict[str, Any] | None:
        """The pending feedback context of the flow, or ``None`` if it waits for none.

        Raises:
            ValueError: a bad flow id.
            PersistenceError: the stored context is unreadable, or storage failed.
        """

    @abstractmethod
    async def clear_pending_feedback(self, flow_uuid: str) -> None:
        """Forget the flow's pending feedback context (no error if there is none).

        Raises:
            ValueError: a bad flow id.
            PersistenceError: storage failed.
        """

    @abstractmethod
    async def history(self, flow_uuid: str) -> list[tuple[str, dict[str, Any]]]:
        """Every ``(method_name, state)`` saved for the flow, oldest first.

        Raises:
            ValueError: a bad flow id.
            PersistenceError: a stored state is unreadable, or storage failed.
        """

    # Run progress: which methods of the flow's current run have completed, so that a
    # run that died part-way can resume after them. These have working defaults
    # (no progress kept: a resumed run starts again from its start methods), so a
    # backend written before them keeps working; SQLite overrides all three.

    async def save_progress(
        self,
        flow_uuid: str,
        method_name: str,
        state: dict[str, Any] | BaseModel,
        progress: dict[str, Any],
    ) -> None:
        """Append a snapshot of *state* together with the run's *progress*, atomically.

        *progress* is plain JSON data: ``{"run": ..., "completed": [...], "finished":
        bool}``. The default ignores it and calls :meth:`save_state`.

        Raises:
            ValueError: a bad flow id or method name.
            PersistenceError: the state or progress is not JSON-serialisable (nothing
                is written), or storage failed.
        """
        await self.save_state(flow_uuid, method_name, state)

    async def load_snapshot(
        self, flow_uuid: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The latest ``(state, progress)`` of the flow, or ``None`` if it has no state.

        The progress is ``None`` when the snapshot was saved without one. The default
        returns :meth:`load_state` without progress.

        Raises:
            ValueError: a bad flow id.
            PersistenceError: the stored data is unreadable, or storage failed.
        """
        state = await self.load_state(flow_uuid)
        return None if state is None else (state, None)

    async def mark_finished(self, flow_uuid: str, progress: dict[str, Any]) -> None:
        """Record that the flow's latest run finished, with its final *progress*.

        A resumed flow whose latest run finished starts a new run from its start
        methods. The default does nothing.

        Raises:
            ValueError: a bad flow id.
            PersistenceError: storage failed.
        """
        validate_flow_uuid(flow_uuid)
