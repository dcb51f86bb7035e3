"""SQLite storage for ``@persist``: one file, WAL mode, one transaction per save.

Connections: every blocking call runs in an anyio worker thread, and those threads are
pooled and interchangeable, so a connection cannot belong to one thread. Opening a
fresh connection per call was measured at 1.5-6 ms a save (a new connection re-reads
the WAL index and its page cache starts cold) against 0.05 ms on a warm one, so each
store keeps a small pool of connections opened with ``check_same_thread=False``; the
pool's lock guarantees each is used by one thread at a time, which is all sqlite3
needs. Idle connections are closed by :meth:`SQLiteFlowPersistence.aclose`, or when
the store is collected or the interpreter exits, so callers need not manage them.
``sqlite3`` itself is imported only when a call runs.
"""

from __future__ import annotations

import os
import threading
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.lowlevel
import anyio.to_thread
from pydantic import BaseModel

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

#: How long one statement waits inside SQLite for another writer's lock, in seconds.
BUSY_TIMEOUT: Final = 5.0
#: Attempts at one call when SQLite still reports the database busy or locked.
MAX_ATTEMPTS: Final = 6
_FIRST_BACKOFF: Final = 0.02
_MAX_BACKOFF: Final = 0.5
#: Worker threads the SQLite calls of one event loop may hold at once: writers
#: serialise in SQLite anyway, and WAL lets a few readers run beside a writer.
_THREADS: Final = 4
# SQLITE_BUSY and SQLITE_LOCKED, with their extended codes (low byte is the primary code).
_BUSY_CODES: Final = frozenset({5, 6})

_limiter: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar(
    "anycrew_sqlite_persistence_limiter"
)

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


def _thread_limiter() -> anyio.CapacityLimiter:
    # A limiter belongs to one event loop, and one store may serve several loops.
    try:
        return _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(_THREADS)
        _limiter.set(limiter)
        return limiter


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
        if db_path is not None and os.fspath(db_path) == ":memory:":
            raise ValueError(
                "SQLiteFlowPersistence needs a file, not ':memory:': pass a path "
                "(a temporary file in tests)"
            )
        self._path = Path(db_path) if db_path is not None else default_db_path()
        self._pool = _Pool(self._path)
        weakref.finalize(self, self._pool.close)

    @property
    def db_path(self) -> Path:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteFlowPersistence(db_path={str(self._path)!r})"

    async def aclose(self) -> None:
        """Close the idle connections; the store stays usable and reopens on demand."""
        await anyio.to_thread.run_sync(self._pool.close, limiter=_thread_limiter())

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
        import sqlite3

        flow_uuid = params[0]
        delay = _FIRST_BACKOFF
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await anyio.to_thread.run_sync(
                    self._pool.run, sql, params, write, limiter=_thread_limiter()
                )
            except sqlite3.Error as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY_CODES
                if not busy or attempt == MAX_ATTEMPTS:
                    hint = (
                        f"it stayed locked after {attempt} attempts; another process "
                        "holds a long write transaction"
                        if busy
                        else f"{type(exc).__name__}: {exc}"
                    )
                    raise PersistenceError(
                        f"could not {doing} flow {flow_uuid!r} in {str(self._path)!r}: {hint}",
                        flow_uuid=flow_uuid,
                    ) from exc
            except OSError as exc:
                raise PersistenceError(
                    f"could not {doing} flow {flow_uuid!r}: cannot create "
                    f"{str(self._path.parent)!r} ({exc}); set ANYCREW_STORAGE_DIR to a "
                    "writable directory",
                    flow_uuid=flow_uuid,
                ) from exc
            # Plain doubling is enough: SQLite's busy handler already spreads writers
            # out; this only covers the locks it does not wait for.
            await anyio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
        raise AssertionError("unreachable")  # pragma: no cover


class _Pool:
    """Open connections to one file, each lent to one thread at a time.

    Holds no reference to its store, so ``weakref.finalize`` can close it when the
    store goes away.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pid = os.getpid()
        self._schema_ready = False

    def run(self, sql: str, params: tuple[str, ...], write: bool) -> list[Any]:
        """Run one statement (a write in its own transaction); return the rows read."""
        conn = self._acquire()
        try:
            if write:
                # SQLite admits one writer at a time anyway; queueing this store's
                # writers here keeps them out of SQLite's busy handler, which sleeps
                # in steps of up to 100 ms. Other processes still meet busy_timeout.
                with self._write_lock:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(sql, params)
                    conn.execute("COMMIT")
                result: list[Any] = []
            else:
                result = conn.execute(sql, params).fetchall()
        except BaseException:
            # Closing rolls back a half-done transaction; a connection that failed
            # is not worth keeping.
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < _THREADS and self._pid == os.getpid():
                self._idle.append(conn)
                return result
        conn.close()
        return result

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():
                # A forked child must not touch its parent's connections (SQLite's
                # rule): drop them unclosed and start afresh.
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _open(self) -> sqlite3.Connection:
        import sqlite3

        if not self._schema_ready:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the module opens no implicit transactions; writers say
        # BEGIN IMMEDIATE so they take the lock up front (a deferred transaction that
        # upgrades to a write can fail without waiting for the lock).
        conn = sqlite3.connect(
            self._path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            # NORMAL is safe in WAL mode: a crash of the process loses nothing committed,
            # a power loss may drop the last commits but never corrupts the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self._schema_ready:
                # journal_mode is stored in the file: it sticks for later connections.
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    conn.execute(statement)
                # Inside the write transaction: two processes upgrading one old
                # file take turns, and the second sees the first's columns.
                present = {row[1] for row in conn.execute("PRAGMA table_info(flow_states)")}
                for column, kind in _ADDED_COLUMNS:
                    if column not in present:
                        conn.execute(f"ALTER TABLE flow_states ADD COLUMN {column} {kind}")
                conn.execute("COMMIT")
                # Racing threads may both get here; the statements are idempotent.
                self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        return conn
