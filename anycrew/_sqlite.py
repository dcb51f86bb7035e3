"""SQLite plumbing shared by anycrew's stores (flow states, kickoff task outputs).

Connections: every blocking call runs in an anyio worker thread, and those threads are
pooled and interchangeable, so a connection cannot belong to one thread. Opening a
fresh connection per call was measured at 1.5-6 ms a save (a new connection re-reads
the WAL index and its page cache starts cold) against 0.05 ms on a warm one, so each
store keeps a small :class:`ConnectionPool` opened with ``check_same_thread=False``;
the pool's lock guarantees each connection is used by one thread at a time, which is
all sqlite3 needs. ``sqlite3`` itself is imported only when a call runs.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

if TYPE_CHECKING:
    import sqlite3

T = TypeVar("T")

#: How long one statement waits inside SQLite for another writer's lock, in seconds.
BUSY_TIMEOUT: Final = 5.0
#: Attempts at one call when SQLite still reports the database busy or locked.
MAX_ATTEMPTS: Final = 6
_FIRST_BACKOFF: Final = 0.02
_MAX_BACKOFF: Final = 0.5
#: Worker threads the SQLite calls of one event loop may hold at once: writers
#: serialise in SQLite anyway, and WAL lets a few readers run beside a writer.
THREADS: Final = 4
# SQLITE_BUSY and SQLITE_LOCKED, with their extended codes (low byte is the primary code).
_BUSY_CODES: Final = frozenset({5, 6})

_limiter: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar(
    "anycrew_sqlite_limiter"
)


def thread_limiter() -> anyio.CapacityLimiter:
    """The limiter of this event loop's SQLite worker threads (shared by every store)."""
    # A limiter belongs to one event loop, and one store may serve several loops.
    try:
        return _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(THREADS)
        _limiter.set(limiter)
        return limiter


async def call_in_thread(
    pool: ConnectionPool,
    work: Callable[[sqlite3.Connection], T],
    *,
    write: bool,
    fail: Callable[[str], Exception],
) -> T:
    """Run *work* on a pooled connection in a worker thread; retry while busy.

    A write runs inside one ``BEGIN IMMEDIATE`` transaction. The worker call is not
    abandoned on cancellation, so a transaction that started finishes (or rolls back)
    before cancellation reaches the caller.

    Args:
        pool: the store's connections.
        work: what to do with the connection (its return value is returned).
        write: whether *work* writes.
        fail: builds the error to raise from a description of what went wrong (the
            SQLite or OS error is its ``__cause__``).
    """
    return await run_in_thread(partial(pool.call, work, write), path=pool.path, fail=fail)


async def run_in_thread(
    blocking: Callable[[], T], *, path: Path, fail: Callable[[str], Exception]
) -> T:
    """Run *blocking* (SQLite work on the database *path*) in a worker thread.

    Retries while SQLite reports the database busy or locked, and translates SQLite
    and OS errors with *fail* (see :func:`call_in_thread`).
    """
    import sqlite3

    delay = _FIRST_BACKOFF
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await anyio.to_thread.run_sync(blocking, limiter=thread_limiter())
        except sqlite3.Error as exc:
            busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY_CODES
            if not busy or attempt == MAX_ATTEMPTS:
                hint = (
                    f"it stayed locked after {attempt} attempts; another process "
                    "holds a long write transaction"
                    if busy
                    else f"{type(exc).__name__}: {exc}"
                )
                raise fail(f"in {str(path)!r}: {hint}") from exc
        except OSError as exc:
            raise fail(
                f"in {str(path)!r}: cannot create {str(path.parent)!r} ({exc}); "
                "set ANYCREW_STORAGE_DIR to a writable directory"
            ) from exc
        # Plain doubling is enough: SQLite's busy handler already spreads writers
        # out; this only covers the locks it does not wait for.
        await anyio.sleep(delay)
        delay = min(delay * 2, _MAX_BACKOFF)
    raise AssertionError("unreachable")  # pragma: no cover


class ConnectionPool:
    """Open connections to one file, each lent to one thread at a time.

    The file, its parent directories and the *schema* statements are created on the
    first connection, in WAL mode; *upgrade* then runs in the same transaction (to
    add what later versions added to an older file). Holds no reference to its
    store, so ``weakref.finalize`` can close it when the store goes away.
    """

    def __init__(
        self,
        path: Path,
        schema: Sequence[str],
        upgrade: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = path
        self._schema = tuple(schema)
        self._upgrade = upgrade
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pid = os.getpid()
        self._schema_ready = False

    def call(self, work: Callable[[sqlite3.Connection], T], write: bool) -> T:
        """Run *work* on a connection (a write in its own transaction); blocking."""
        conn = self._acquire()
        try:
            if write:
                # SQLite admits one writer at a time anyway; queueing this store's
                # writers here keeps them out of SQLite's busy handler, which sleeps
                # in steps of up to 100 ms. Other processes still meet busy_timeout.
                with self._write_lock:
                    conn.execute("BEGIN IMMEDIATE")
                    result = work(conn)
                    conn.execute("COMMIT")
            else:
                result = work(conn)
        except BaseException:
            # Closing rolls back a half-done transaction; a connection that failed
            # is not worth keeping.
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < THREADS and self._pid == os.getpid():
                self._idle.append(conn)
                return result
        conn.close()
        return result

    def run(self, sql: str, params: Sequence[Any], write: bool) -> list[Any]:
        """Run one statement (a write in its own transaction); return the rows read."""

        def one(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        return self.call(one, write)

    def close(self) -> None:
        """Close the idle connections (the pool reopens on demand)."""
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
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the module opens no implicit transactions; writers say
        # BEGIN IMMEDIATE so they take the lock up front (a deferred transaction that
        # upgrades to a write can fail without waiting for the lock).
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
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
                for statement in self._schema:
                    conn.execute(statement)
                if self._upgrade is not None:
                    self._upgrade(conn)
                conn.execute("COMMIT")
                # Racing threads may both get here; the statements are idempotent.
                self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        return conn


def open_store_pool(
    owner: object,
    db_path: str | os.PathLike[str] | None,
    default: Callable[[], Path],
    schema: Sequence[str],
    upgrade: Callable[[sqlite3.Connection], None] | None = None,
) -> ConnectionPool:
    """The connection pool of the store *owner* on *db_path* (else ``default()``).

    The pool closes when *owner* goes away.

    Raises:
        ValueError: *db_path* is ``":memory:"`` (every pooled connection would see a
            database of its own).
    """
    if db_path is not None and os.fspath(db_path) == ":memory:":
        raise ValueError(
            f"{type(owner).__name__} needs a file, not ':memory:': pass a path "
            "(a temporary file in tests)"
        )
    pool = ConnectionPool(Path(db_path) if db_path is not None else default(), schema, upgrade)
    weakref.finalize(owner, pool.close)
    return pool
