"""SQLite storage for ``@persist``: one file, WAL mode, one transaction per save.

The connection pool, the worker threads and the busy retries are shared with the other
SQLite stores (``anycrew._sqlite``). Idle connections are closed by
:meth:`SQLiteFlowPersistence.aclose`, or when the store is collected or the
interpreter exits, so callers need not manage them. ``sqlite3`` itself is imported
only when a call runs.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread
from pydantic import BaseModel

from ..._sqlite import BUSY_TIMEOUT as BUSY_TIMEOUT
from ..._sqlite import MAX_ATTEMPTS as MAX_ATTEMPTS
from ..._sqlite import call_in_thread, open_store_pool, thread_limiter
from .base import (
    FlowPersistence,
    PersistenceError,
    decode_json,
    encode_json,
    storage_dir,
    validate_flow_uuid,
)

if TYPE_CHECKING:
    import sqlite3

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS flow_states (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        flow_uuid TEXT NOT NULL,
        method_name TEXT NOT NULL,
        state_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_flow_states_uuid ON flow_states (flow_uuid, id)",
    """CREATE TABLE IF NOT EXISTS pending_feedback (
        flow_uuid TEXT PRIMARY KEY,
        context_json TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
)

#: Columns added to ``flow_states`` after its first release, with their types. Files
#: written before them gain them on first open (``ALTER TABLE ... ADD COLUMN``); old
#: rows read them as NULL.
_ADDED_COLUMNS: Final = (("progress_json", "TEXT"),)


def _add_columns(conn: sqlite3.Connection) -> None:
    # Inside the schema's write transaction: two processes upgrading one old file
    # take turns, and the second sees the first's columns.
    present = {row[1] for row in conn.execute("PRAGMA table_info(flow_states)")}
    for column, kind in _ADDED_COLUMNS:
        if column not in present:
            conn.execute(f"ALTER TABLE flow_states ADD COLUMN {column} {kind}")


def default_db_path() -> Path:
    """The default store's file: ``flows.db`` in :func:`storage_dir`."""
    return storage_dir() / "flows.db"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SQLiteFlowPersistence(FlowPersistence):
    """Flow states in one SQLite file, safe for many flows, threads and processes at once.

    The file (and its parent directories) is created on first use, in WAL mode so
    readers never block the writer. Each save is one ``BEGIN IMMEDIATE`` transaction:
    a snapshot is either fully there or absent, even if the caller is cancelled or the
    process dies. When another writer holds the lock, SQLite waits up to
    ``BUSY_TIMEOUT`` seconds, and a call that still finds the database busy is retried
    a bounded number of times with a growing pause. Blocking calls run in worker
    threads, at most four per event loop, so the loop never waits on the disk.

    Args:
        db_path: the database file; ``None`` means ``$ANYCREW_STORAGE_DIR/flows.db`` or
            ``<user data dir>/anycrew/flows.db``.

    Raises:
        ValueError: *db_path* is ``":memory:"`` (every pooled connection would see a
            database of its own).
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None) -> None:
        self._pool = open_store_pool(self, db_path, default_db_path, _SCHEMA, _add_columns)
        self._path = self._pool.path

    @property
    def db_path(self) -> Path:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteFlowPersistence(db_path={str(self._path)!r})"

    async def aclose(self) -> None:
        """Close the idle connections; the store stays usable and reopens on demand."""
        await anyio.to_thread.run_sync(self._pool.close, limiter=thread_limiter())

    # The public methods document only what differs from FlowPersistence's contract.

    async def save_state(
        self, flow_uuid: str, method_name: str, state: dict[str, Any] | BaseModel
    ) -> None:
        """Append a snapshot of *state*, taken after *method_name* ran, in one transaction.

        Raises:
            ValueError: a bad flow id or an empty method name.
            PersistenceError: the state is not JSON-serialisable (nothing is written),
                or the database failed.
        """
        validate_flow_uuid(flow_uuid)
        if not isinstance(method_name, str) or not method_name:
            raise ValueError(f"invalid method_name {method_name!r}: pass the method's name")
        text = encode_json(flow_uuid, state)
        sql = (
            "INSERT INTO flow_states (flow_uuid, method_name, state_json, created_at) "
            "VALUES (?, ?, ?, ?)"
        )
        params = (flow_uuid, method_name, text, _now())
        await self._run(sql, params, "save the state of", write=True)

    async def load_state(self, flow_uuid: str) -> dict[str, Any] | None:
        """The latest saved state of the flow, or ``None`` (see :class:`FlowPersistence`)."""
        validate_flow_uuid(flow_uuid)
        sql = "SELECT state_json FROM flow_states WHERE flow_uuid = ? ORDER BY id DESC LIMIT 1"
        rows = await self._run(sql, (flow_uuid,), "load the state of")
        return decode_json(flow_uuid, rows[0][0]) if rows else None

    async def history(self, flow_uuid: str) -> list[tuple[str, dict[str, Any]]]:
        """Every ``(method_name, state)`` of the flow, oldest first (see the base class)."""
        validate_flow_uuid(flow_uuid)
        sql = "SELECT method_name, state_json FROM flow_states WHERE flow_uuid = ? ORDER BY id"
        rows = await self._run(sql, (flow_uuid,), "load the history of")
        return [(str(name), decode_json(flow_uuid, text)) for name, text in rows]

    async def save_progress(
        self,
        flow_uuid: str,
        method_name: str,
        state: dict[str, Any] | BaseModel,
        progress: dict[str, Any],
    ) -> None:
        """Append a snapshot of *state* and the run's *progress* in one row (one transaction).

        Raises:
            ValueError: a bad flow id or an empty method name.
            PersistenceError: the state or progress is not JSON-serialisable (nothing
                is written), or the database failed.
        """
        validate_flow_uuid(flow_uuid)
        if not isinstance(method_name, str) or not method_name:
            raise ValueError(f"invalid method_name {method_name!r}: pass the method's name")
        text = encode_json(flow_uuid, state)
        progress_text = encode_json(flow_uuid, progress, "run progress")
        sql = (
            "INSERT INTO flow_states "
            "(flow_uuid, method_name, state_json, created_at, progress_json) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        params = (flow_uuid, method_name, text, _now(), progress_text)
        await self._run(sql, params, "save the state of", write=True)

    async def load_snapshot(
        self, flow_uuid: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The latest ``(state, progress)`` of the flow, read together (see the base class)."""
        validate_flow_uuid(flow_uuid)
        sql = (
            "SELECT state_json, progress_json FROM flow_states WHERE flow_uuid = ? "
            "ORDER BY id DESC LIMIT 1"
        )
        rows = await self._run(sql, (flow_uuid,), "load the state of")
        if not rows:
            return None
        state_text, progress_text = rows[0]
        progress = (
            None if progress_text is None else decode_json(flow_uuid, progress_text, "run progress")
        )
        return decode_json(flow_uuid, state_text), progress

    async def mark_finished(self, flow_uuid: str, progress: dict[str, Any]) -> None:
        """Store *progress* (marked finished) on the flow's latest snapshot, in one statement."""
        validate_flow_uuid(flow_uuid)
        text = encode_json(flow_uuid, {**progress, "finished": True}, "run progress")
        # flow_uuid is the first parameter: _run names it in its errors.
        sql = (
            "UPDATE flow_states SET progress_json = ?2 WHERE id = "
            "(SELECT MAX(id) FROM flow_states WHERE flow_uuid = ?1)"
        )
        await self._run(sql, (flow_uuid, text), "mark the run finished of", write=True)

    async def save_pending_feedback(self, flow_uuid: str, context: dict[str, Any]) -> None:
        """Record (or replace) the flow's pending feedback context (see the base class)."""
        validate_flow_uuid(flow_uuid)
        text = encode_json(flow_uuid, context, "feedback context")
        sql = (
            "INSERT OR REPLACE INTO pending_feedback (flow_uuid, context_json, created_at) "
            "VALUES (?, ?, ?)"
        )
        await self._run(sql, (flow_uuid, text, _now()), "save the pending feedback of", write=True)

    async def load_pending_feedback(self, flow_uuid: str) -> dict[str, Any] | None:
        """The flow's pending feedback context, or ``None`` (see the base class)."""
        validate_flow_uuid(flow_uuid)
        sql = "SELECT context_json FROM pending_feedback WHERE flow_uuid = ?"
        rows = await self._run(sql, (flow_uuid,), "load the pending feedback of")
        return decode_json(flow_uuid, rows[0][0], "feedback context") if rows else None

    async def clear_pending_feedback(self, flow_uuid: str) -> None:
        """Forget the flow's pending feedback context, if any (see the base class)."""
        validate_flow_uuid(flow_uuid)
        sql = "DELETE FROM pending_feedback WHERE flow_uuid = ?"
        await self._run(sql, (flow_uuid,), "clear the pending feedback of", write=True)

    async def _run(
        self, sql: str, params: tuple[str, ...], doing: str, *, write: bool = False
    ) -> list[Any]:
        """Run one statement on a pooled connection in a worker thread; retry while busy.

        The worker call is not abandoned on cancellation, so a transaction that started
        finishes (or rolls back) before cancellation reaches the caller.
        """
        flow_uuid = params[0]

        def statement(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        def fail(problem: str) -> PersistenceError:
            return PersistenceError(
                f"could not {doing} flow {flow_uuid!r} {problem}", flow_uuid=flow_uuid
            )

        return await call_in_thread(self._pool, statement, write=write, fail=fail)
