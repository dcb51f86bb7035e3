"""The persistence seam for ``@persist`` and its SQLite backend, on a temporary file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from anycrew.errors import AnyCrewError
from anycrew.flow.persistence import (
    FlowPersistence,
    PersistenceError,
    SQLiteFlowPersistence,
    default_persistence,
)
from anycrew.flow.persistence.base import user_data_dir

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path: Path) -> SQLiteFlowPersistence:
    return SQLiteFlowPersistence(tmp_path / "deep" / "er" / "flows.db")


def _rows(path: Path, sql: str, *params: Any) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def test_save_load_latest_and_history(store: SQLiteFlowPersistence) -> None:
    assert isinstance(store, FlowPersistence)
    assert await store.load_state("f1") is None
    assert await store.history("f1") == []
    await store.save_state("f1", "start", {"n": 1, "items": ["a"]})
    await store.save_state("f2", "start", {"n": 100})
    await store.save_state("f1", "step", {"n": 2, "items": ["a", "b"], "nested": {"k": None}})
    await store.save_state("f1", "end", {"n": 3, "text": "naïve ✓"})

    assert await store.load_state("f1") == {"n": 3, "text": "naïve ✓"}
    assert await store.load_state("f2") == {"n": 100}
    assert await store.history("f1") == [
        ("start", {"n": 1, "items": ["a"]}),
        ("step", {"n": 2, "items": ["a", "b"], "nested": {"k": None}}),
        ("end", {"n": 3, "text": "naïve ✓"}),
    ]
    assert store.db_path.exists()
    assert _rows(store.db_path, "PRAGMA journal_mode") == [("wal",)]
    # A second instance on the same file sees the same data.
    assert await SQLiteFlowPersistence(store.db_path).load_state("f2") == {"n": 100}


async def test_pending_feedback_save_load_clear(store: SQLiteFlowPersistence) -> None:
    assert await store.load_pending_feedback("f") is None
    await store.clear_pending_feedback("f")  # nothing to clear is fine
    await store.save_pending_feedback("f", {"method": "review", "message": "ok?"})
    await store.save_pending_feedback("g", {"method": "other"})
    assert await store.load_pending_feedback("f") == {"method": "review", "message": "ok?"}
    await store.save_pending_feedback("f", {"method": "review", "message": "again?"})
    assert await store.load_pending_feedback("f") == {"method": "review", "message": "again?"}
    await store.clear_pending_feedback("f")
    assert await store.load_pending_feedback("f") is None
    assert await store.load_pending_feedback("g") == {"method": "other"}
    assert await store.load_state("f") is None  # feedback is not a state snapshot


class Profile(BaseModel):
    name: str
    tags: list[str] = []


class AppState(BaseModel):
    id: str
    profile: Profile
    score: float = 0.5


async def test_pydantic_state_is_stored_in_json_mode(store: SQLiteFlowPersistence) -> None:
    state = AppState(id="abc", profile=Profile(name="Ada", tags=["x"]))
    await store.save_state("abc", "start", state)
    loaded = await store.load_state("abc")
    assert loaded == {"id": "abc", "profile": {"name": "Ada", "tags": ["x"]}, "score": 0.5}
    assert AppState.model_validate(loaded) == state


@pytest.mark.parametrize("bad", ["", "x" * 201, None, 42, b"bytes"])
async def test_bad_flow_ids_raise_value_error(store: SQLiteFlowPersistence, bad: Any) -> None:
    calls = [
        store.save_state(bad, "m", {}),
        store.load_state(bad),
        store.history(bad),
        store.save_pending_feedback(bad, {}),
        store.load_pending_feedback(bad),
        store.clear_pending_feedback(bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="flow_uuid") as info:
            await call
        assert repr(bad)[:20] in str(info.value)
    assert not store.db_path.exists()  # rejected before touching storage


async def test_flow_id_of_200_chars_is_accepted(store: SQLiteFlowPersistence) -> None:
    await store.save_state("x" * 200, "m", {"ok": True})
    assert await store.load_state("x" * 200) == {"ok": True}


async def test_bad_method_name(store: SQLiteFlowPersistence) -> None:
    with pytest.raises(ValueError, match="method_name"):
        await store.save_state("f", "", {})


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"a": {"b": [1, object()]}}, "a.b[1]"),
        ({"when": {1, 2}}, "when"),
        ({"a": {(1, 2): "tuple key"}}, "a[(1, 2)]"),
        ({"a": [{"b": 1}, {"c": {"d": b"raw"}}]}, "a[1].c.d"),
    ],
)
async def test_non_serialisable_state_writes_nothing(
    store: SQLiteFlowPersistence, state: dict[str, Any], field: str
) -> None:
    await store.save_state("f", "start", {"n": 1})
    with pytest.raises(PersistenceError) as info:
        await store.save_state("f", "step", state)
    error = info.value
    assert isinstance(error, AnyCrewError)
    assert error.flow_uuid == "f"
    assert error.field == field
    assert "'f'" in str(error)
    assert field in str(error)
    assert await store.history("f") == [("start", {"n": 1})]
    with pytest.raises(PersistenceError, match="'f'"):
        await store.save_pending_feedback("f", {"cb": print})
    assert await store.load_pending_feedback("f") is None


async def test_cyclic_and_non_dict_states(store: SQLiteFlowPersistence) -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(PersistenceError, match=r"'f'.*cycle") as info:
        await store.save_state("f", "m", cyclic)
    assert info.value.field == "self"
    with pytest.raises(PersistenceError, match="expected a dict"):
        await store.save_state("f", "m", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert await store.history("f") == []


@pytest.mark.parametrize("garbage", ["{not json", "[1, 2]", "null"])
async def test_corrupt_rows_raise_persistence_error(
    store: SQLiteFlowPersistence, garbage: str
) -> None:
    await store.save_state("broken-flow", "start", {"n": 1})
    await store.save_pending_feedback("broken-flow", {"m": 1})
    conn = sqlite3.connect(store.db_path)
    with conn:
        conn.execute(
            "INSERT INTO flow_states (flow_uuid, method_name, state_json, created_at) "
            "VALUES (?, ?, ?, ?)",
            ("broken-flow", "step", garbage, "now"),
        )
        conn.execute("UPDATE pending_feedback SET context_json = ?", (garbage,))
    conn.close()
    for call in (store.load_state, store.history, store.load_pending_feedback):
        with pytest.raises(PersistenceError, match="'broken-flow'") as info:
            await call("broken-flow")
        assert info.value.flow_uuid == "broken-flow"
        assert info.value.__cause__ is not None


async def test_sqlite_errors_are_translated(tmp_path: Path) -> None:
    not_a_db = tmp_path / "flows.db"
    not_a_db.write_bytes(b"this is not a database file" * 100)
    store = SQLiteFlowPersistence(not_a_db)
    with pytest.raises(PersistenceError, match="'f'") as info:
        await store.save_state("f", "m", {})
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


async def test_unwritable_directory_is_translated(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    store = SQLiteFlowPersistence(blocker / "sub" / "flows.db")
    with pytest.raises(PersistenceError, match="ANYCREW_STORAGE_DIR") as info:
        await store.save_state("f", "m", {})
    assert isinstance(info.value.__cause__, OSError)


async def test_many_concurrent_flows_share_one_file(store: SQLiteFlowPersistence) -> None:
    flows, steps = 50, 20

    async def run_flow(n: int) -> None:
        for i in range(steps):
            await store.save_state(f"flow-{n}", f"step{i}", {"flow": n, "i": i})

    async with anyio.create_task_group() as tg:
        for n in range(flows):
            tg.start_soon(run_flow, n)

    assert _rows(store.db_path, "SELECT COUNT(*) FROM flow_states") == [(flows * steps,)]
    for n in range(flows):
        expected = [(f"step{i}", {"flow": n, "i": i}) for i in range(steps)]
        assert await store.history(f"flow-{n}") == expected
        assert await store.load_state(f"flow-{n}") == {"flow": n, "i": steps - 1}


_WRITER = textwrap.dedent(
    """
    import sys, anyio
    from anycrew.flow.persistence import SQLiteFlowPersistence

    path, proc, backend = sys.argv[1], sys.argv[2], sys.argv[3]
    store = SQLiteFlowPersistence(path)

    async def main():
        await store.load_state("warm-up")  # create the schema before the race
        print("ready", flush=True)
        sys.stdin.readline()  # both processes start writing on the same signal
        for i in range(200):
            await store.save_state(f"proc-{proc}", "step", {"proc": proc, "i": i})

    anyio.run(main, backend=backend)
    """
)


def test_two_processes_write_one_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db), str(n), backend],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, backend in enumerate(["asyncio", "trio"])
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    assert _rows(db, "SELECT COUNT(*) FROM flow_states") == [(400,)]
    for n in range(2):
        rows = _rows(
            db, "SELECT state_json FROM flow_states WHERE flow_uuid = ? ORDER BY id", f"proc-{n}"
        )
        assert rows == [(f'{{"proc": "{n}", "i": {i}}}',) for i in range(200)]


async def test_default_path_honours_anycrew_storage_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "store" / "nested"
    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(target))
    store = default_persistence()
    assert isinstance(store, SQLiteFlowPersistence)
    assert store.db_path == target / "flows.db"
    assert not target.exists()  # created on first use, not on construction
    await store.save_state("f", "m", {"x": 1})
    assert (target / "flows.db").is_file()
    assert await SQLiteFlowPersistence().load_state("f") == {"x": 1}


def test_default_path_without_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANYCREW_STORAGE_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert SQLiteFlowPersistence().db_path == tmp_path / "xdg" / "anycrew" / "flows.db"
    home = Path("/home/u")
    assert user_data_dir("linux", {}, home) == home / ".local" / "share"
    assert user_data_dir("linux", {"XDG_DATA_HOME": "relative"}, home) == home / ".local/share"
    assert user_data_dir("linux", {"XDG_DATA_HOME": "/x"}, home) == Path("/x")
    assert user_data_dir("darwin", {}, home) == home / "Library" / "Application Support"
    assert user_data_dir("win32", {"LOCALAPPDATA": "C:/L", "APPDATA": "C:/R"}, home) == Path("C:/L")
    assert user_data_dir("win32", {}, home) == home / "AppData" / "Local"


def test_memory_database_is_refused() -> None:
    with pytest.raises(ValueError, match="memory"):
        SQLiteFlowPersistence(":memory:")


def test_import_does_not_load_sqlite() -> None:
    code = (
        "import sys, anycrew, anycrew.flow.persistence as p; "
        "before = [m for m in ('sqlite3', 'anycrew.flow.persistence.sqlite') if m in sys.modules]; "
        "p.SQLiteFlowPersistence('x.db'); "
        "print(before, 'sqlite3' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[] False"


def test_persistence_error_pickles() -> None:
    import pickle

    error = PersistenceError("boom", flow_uuid="f", field="a.b")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.flow_uuid, copy.field) == ("boom", "f", "a.b")


async def test_aclose_releases_connections_and_store_stays_usable(
    store: SQLiteFlowPersistence,
) -> None:
    await store.save_state("f", "a", {"n": 1})
    await store.aclose()
    await store.save_state("f", "b", {"n": 2})
    assert await store.history("f") == [("a", {"n": 1}), ("b", {"n": 2})]
    await store.aclose()


def test_storage_dir_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from anycrew.flow.persistence.base import storage_dir

    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(tmp_path / "one"))
    assert storage_dir() == tmp_path / "one"
    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(tmp_path / "two"))
    assert storage_dir() == tmp_path / "two"
    monkeypatch.delenv("ANYCREW_STORAGE_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform not in ("win32", "darwin"):
        assert storage_dir() == tmp_path / "data" / "anycrew"
    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(tmp_path / "one"))
    assert storage_dir() == tmp_path / "one"
