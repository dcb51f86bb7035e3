"""The task outputs of each kickoff, kept per run id in SQLite (what ``replay`` reads).

One file, ``kickoff_task_outputs.db`` in the storage directory (``ANYCREW_STORAGE_DIR``,
else ``<user data dir>/anycrew``), in WAL mode. A kickoff is written once, when it
ends (completed, failed or cancelled), in one transaction: its inputs, its status and
a row per task of the crew, with the task's output as JSON or nothing if the task did
not complete. Only the latest :data:`MAX_KICKOFFS` kickoffs are kept.

Every method may block on the disk, so every method is async and runs its SQLite work
in a worker thread (shared with the other SQLite stores, see ``anycrew._sqlite``).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from ..._sqlite import call_in_thread, open_store_pool, run_in_thread, thread_limiter
from ..._storage import storage_dir
from ...errors import TaskOutputStorageError

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "MAX_KICKOFFS",
    "KickoffTaskOutputsSQLiteStorage",
    "StoredKickoff",
    "StoredTask",
    "default_db_path",
    "default_storage",
]

T = TypeVar("T")

#: How many kickoffs the store keeps; older ones are deleted as new ones arrive.
MAX_KICKOFFS: Final = 1000
# Pruning runs on every this-many-th kickoff, not on each one.
_PRUNE_EVERY: Final = 32

KickoffStatus = Literal["completed", "failed", "cancelled"]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS kickoffs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        crew_id TEXT NOT NULL,
        crew_name TEXT NOT NULL,
        task_count INTEGER NOT NULL,
        inputs_json TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        replay_of TEXT,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_kickoffs_run ON kickoffs (run_id)",
    """CREATE TABLE IF NOT EXISTS kickoff_task_outputs (
        kickoff INTEGER NOT NULL,
        task_index INTEGER NOT NULL,
        task_id TEXT NOT NULL,
        task_name TEXT,
        description TEXT NOT NULL,
        expected_output TEXT NOT NULL,
        agent TEXT NOT NULL,
        output_json TEXT,
        restored INTEGER NOT NULL,
        duration REAL,
        PRIMARY KEY (kickoff, task_index)
    )""",
    "CREATE INDEX IF NOT EXISTS idx_kickoff_task_outputs_task "
    "ON kickoff_task_outputs (task_id, kickoff)",
)

_KICKOFF_COLUMNS: Final = (
    "id, run_id, crew_id, crew_name, task_count, inputs_json, status, error, replay_of, created_at"
)
_TASK_COLUMNS: Final = (
    "task_index, task_id, task_name, description, expected_output, agent, output_json, "
    "restored, duration"
)

# The newest kickoff holding *task_id* whose earlier tasks all completed.
_REPLAY_SOURCE: Final = """
    SELECT t.kickoff FROM kickoff_task_outputs AS t
    WHERE t.task_id = ? AND t.task_index = (
        SELECT COUNT(*) FROM kickoff_task_outputs AS p
        WHERE p.kickoff = t.kickoff AND p.task_index < t.task_index
            AND p.output_json IS NOT NULL
    )
    ORDER BY t.kickoff DESC LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class StoredTask:
    """One task of a stored kickoff.

    Attributes:
        task_index: the task's position in the crew (0-based).
        task_id: the task's id (``str(task.id)``).
        task_name: its name, if it has one.
        description: its description, with the kickoff's inputs filled in.
        expected_output: its expected output, with the inputs filled in.
        agent: the role of the agent that did it.
        output: the TaskOutput's fields as JSON data, or ``None`` if the task did not
            complete (it failed, was cancelled, or never started).
        restored: the output was taken from an earlier kickoff by a replay, not made
            by this one.
        duration: seconds the task ran, when it ran in this kickoff.
    """

    task_index: int
    task_id: str
    task_name: str | None
    description: str
    expected_output: str
    agent: str
    output: dict[str, Any] | None
    restored: bool = False
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class StoredKickoff:
    """One kickoff of a crew, as the store keeps it.

    Attributes:
        run_id: the kickoff's run id (events carry it too).
        crew_id: the crew object's id (``str(crew.id)``; new for every process).
        crew_name: the crew's name.
        inputs: the kickoff's inputs.
        status: ``"completed"``, ``"failed"`` or ``"cancelled"``.
        tasks: one entry per task of the crew, in order.
        error: what the failure was, for a failed kickoff.
        replay_of: the run id of the kickoff this one replayed, if it was a replay.
        created_at: when it was stored (ISO 8601, UTC); filled in by the store.
    """

    run_id: str
    crew_id: str
    crew_name: str
    inputs: dict[str, Any]
    status: KickoffStatus
    tasks: tuple[StoredTask, ...]
    error: str | None = None
    replay_of: str | None = None
    created_at: str = field(default="")


def default_db_path() -> Path:
    """The default store's file: ``kickoff_task_outputs.db`` in the storage directory."""
    return storage_dir() / "kickoff_task_outputs.db"


_stores: dict[Path, KickoffTaskOutputsSQLiteStorage] = {}
# The flush in progress per store (by id) on each event loop.
_flushing: anyio.lowlevel.RunVar[dict[int, anyio.Event]] = anyio.lowlevel.RunVar(
    "anycrew_task_outputs_flushing"
)


def default_storage() -> KickoffTaskOutputsSQLiteStorage:
    """The store at :func:`default_db_path` (one instance per path, reused)."""
    path = default_db_path()
    store = _stores.get(path)
    if store is None:
        store = _stores.setdefault(path, KickoffTaskOutputsSQLiteStorage(path))
    return store


class KickoffTaskOutputsSQLiteStorage:
    """Kickoff task outputs in one SQLite file, safe for many threads and processes.

    CrewAI's class of the same name keeps only the latest kickoff; this one keeps the
    latest :data:`MAX_KICKOFFS`, each under its run id, so concurrent kickoffs never
    overwrite each other and a replay can start from the latest kickoff that holds
    the task asked for.

    Args:
        db_path: the database file; ``None`` means :func:`default_db_path`.

    Raises:
        ValueError: *db_path* is ``":memory:"`` (every pooled connection would see a
            database of its own).
    """

    def __init__(self, db_path: str | os.PathLike[str] | None = None) -> None:
        self._pool = open_store_pool(self, db_path, default_db_path, _SCHEMA)
        self._path = self._pool.path
        # Group commit: kickoffs queue here, and whichever worker thread flushes
        # writes everything queued in one transaction; a kickoff whose record went
        # out in another's batch finds it done.
        self._queue: list[tuple[int, StoredKickoff]] = []
        self._queue_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._tickets = itertools.count(1)
        self._flushed = 0

    @property
    def db_path(self) -> Path:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        return f"KickoffTaskOutputsSQLiteStorage(db_path={str(self._path)!r})"

    async def aclose(self) -> None:
        """Close the idle connections; the store stays usable and reopens on demand."""
        await anyio.to_thread.run_sync(self._pool.close, limiter=thread_limiter())

    async def add(self, kickoff: StoredKickoff) -> None:
        """Store *kickoff* and its tasks; return once a transaction holding it committed.

        Concurrent calls share transactions (a group commit), and the JSON encoding
        happens in the worker thread.

        Raises:
            TaskOutputStorageError: the database could not be written.
        """
        with self._queue_lock:
            ticket = next(self._tickets)
            self._queue.append((ticket, kickoff))

        def fail(problem: str) -> TaskOutputStorageError:
            return TaskOutputStorageError(f"could not store kickoff {kickoff.run_id!r} {problem}")

        flushing = _flushing.get(None)
        if flushing is None:
            flushing = {}
            _flushing.set(flushing)
        try:
            # One flush per store at a time on this event loop: the others wait for
            # it, and most find their kickoff written by it, with no thread hop.
            while self._flushed < ticket:
                running = flushing.get(id(self))
                if running is not None:
                    await running.wait()
                    continue
                flushing[id(self)] = done = anyio.Event()
                try:
                    await run_in_thread(partial(self._flush, ticket), path=self._path, fail=fail)
                finally:
                    del flushing[id(self)]
                    done.set()
        except BaseException:
            # Given up (or never started): the record leaves the queue with its caller.
            with self._queue_lock:
                self._queue = [item for item in self._queue if item[0] != ticket]
            raise

    def _flush(self, ticket: int) -> None:
        """Write the queued kickoffs unless one flush already took *ticket*; blocking."""
        with self._flush_lock:
            if self._flushed >= ticket:
                return
            with self._queue_lock:
                batch, self._queue = self._queue, []
            if not batch:
                return
            try:
                self._pool.call(partial(_insert, batch), True)
            except BaseException:
                # Back in the queue, in order: the next flush (a retry) writes them.
                with self._queue_lock:
                    self._queue[:0] = batch
                raise
            self._flushed = batch[-1][0]

    async def find_replay_source(self, task_id: str) -> StoredKickoff | None:
        """The newest kickoff that holds *task_id* and the outputs of every task before it.

        Raises:
            TaskOutputStorageError: the database could not be read, or holds data that
                is not anycrew's.
        """

        def read(conn: sqlite3.Connection) -> StoredKickoff | None:
            row = conn.execute(_REPLAY_SOURCE, (task_id,)).fetchone()
            return None if row is None else _load_kickoff(conn, row[0])

        return await self._call(read, f"find task {task_id!r}")

    async def has_task(self, task_id: str) -> bool:
        """Whether any stored kickoff holds the task *task_id*, complete or not."""

        def read(conn: sqlite3.Connection) -> bool:
            sql = "SELECT 1 FROM kickoff_task_outputs WHERE task_id = ? LIMIT 1"
            return conn.execute(sql, (task_id,)).fetchone() is not None

        return await self._call(read, f"find task {task_id!r}")

    async def load(self, run_id: str) -> StoredKickoff | None:
        """The stored kickoff with this run id (the latest, if it was stored twice)."""

        def read(conn: sqlite3.Connection) -> StoredKickoff | None:
            sql = "SELECT id FROM kickoffs WHERE run_id = ? ORDER BY id DESC LIMIT 1"
            row = conn.execute(sql, (run_id,)).fetchone()
            return None if row is None else _load_kickoff(conn, row[0])

        return await self._call(read, f"load kickoff {run_id!r}")

    async def latest(self, limit: int = 1) -> list[StoredKickoff]:
        """The newest *limit* kickoffs, newest first."""

        def read(conn: sqlite3.Connection) -> list[StoredKickoff]:
            sql = "SELECT id FROM kickoffs ORDER BY id DESC LIMIT ?"
            keys = [key for (key,) in conn.execute(sql, (limit,)).fetchall()]
            return [kickoff for key in keys if (kickoff := _load_kickoff(conn, key))]

        return await self._call(read, "list the latest kickoffs")

    async def delete_all(self) -> None:
        """Forget every stored kickoff."""

        def wipe(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM kickoff_task_outputs")
            conn.execute("DELETE FROM kickoffs")

        await self._call(wipe, "delete the stored kickoffs", write=True)

    async def _call(
        self, work: Callable[[sqlite3.Connection], T], doing: str, *, write: bool = False
    ) -> T:
        def fail(problem: str) -> TaskOutputStorageError:
            return TaskOutputStorageError(f"could not {doing} {problem}")

        return await call_in_thread(self._pool, work, write=write, fail=fail)


def _insert(batch: list[tuple[int, StoredKickoff]], conn: sqlite3.Connection) -> None:
    """Insert the kickoffs of *batch* and their tasks (inside the caller's transaction)."""
    prune, newest = False, 0
    for _ticket, kickoff in batch:
        cursor = conn.execute(
            f"INSERT INTO kickoffs ({_KICKOFF_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kickoff.run_id,
                kickoff.crew_id,
                kickoff.crew_name,
                len(kickoff.tasks),
                _dumps(kickoff.inputs),
                kickoff.status,
                kickoff.error,
                kickoff.replay_of,
                datetime.now(UTC).isoformat(),
            ),
        )
        key = cursor.lastrowid
        assert key is not None
        conn.executemany(
            f"INSERT INTO kickoff_task_outputs (kickoff, {_TASK_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    key,
                    task.task_index,
                    task.task_id,
                    task.task_name,
                    task.description,
                    task.expected_output,
                    task.agent,
                    None if task.output is None else _dumps(task.output),
                    int(task.restored),
                    task.duration,
                )
                for task in kickoff.tasks
            ],
        )
        prune = prune or key % _PRUNE_EVERY == 0
        newest = key
    if prune:
        oldest_kept = newest - MAX_KICKOFFS
        conn.execute("DELETE FROM kickoff_task_outputs WHERE kickoff <= ?", (oldest_kept,))
        conn.execute("DELETE FROM kickoffs WHERE id <= ?", (oldest_kept,))


def _dumps(value: Any) -> str:
    # default=str: a value JSON cannot hold is kept as its text rather than losing
    # the whole kickoff (inputs and outputs are plain data in practice).
    return json.dumps(value, ensure_ascii=False, default=str)


def _loads(text: str | None, where: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TaskOutputStorageError(
            f"the stored {where} is not valid JSON ({exc}); the record is corrupt: "
            "delete the store's file or kick the crew off again"
        ) from exc


def _load_kickoff(conn: sqlite3.Connection, key: int) -> StoredKickoff | None:
    row = conn.execute(f"SELECT {_KICKOFF_COLUMNS} FROM kickoffs WHERE id = ?", (key,)).fetchone()
    if row is None:
        return None
    _, run_id, crew_id, crew_name, _count, inputs_json, status, error, replay_of, created = row
    sql = f"SELECT {_TASK_COLUMNS} FROM kickoff_task_outputs WHERE kickoff = ? ORDER BY task_index"
    tasks = tuple(
        StoredTask(
            task_index=index,
            task_id=task_id,
            task_name=name,
            description=description,
            expected_output=expected,
            agent=agent,
            output=_loads(output, f"output of task {task_id!r} in kickoff {run_id!r}"),
            restored=bool(restored),
            duration=duration,
        )
        for index, task_id, name, description, expected, agent, output, restored, duration in (
            conn.execute(sql, (key,)).fetchall()
        )
    )
    inputs = _loads(inputs_json, f"inputs of kickoff {run_id!r}")
    return StoredKickoff(
        run_id=run_id,
        crew_id=crew_id,
        crew_name=crew_name,
        inputs=inputs if isinstance(inputs, dict) else {},
        status=status,
        tasks=tasks,
        error=error,
        replay_of=replay_of,
        created_at=created,
    )
