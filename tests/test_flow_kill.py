"""Resuming a @persist flow whose run did not finish: killed, failed or cancelled part-way."""

from __future__ import annotations

import importlib.util
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import anyio
import pytest
from pydantic import BaseModel, Field

from anycrew.events import MethodExecutionStartedEvent
from anycrew.flow import Flow, listen, or_, persist, router, start
from anycrew.flow.persistence import FlowPersistence, PersistenceError, SQLiteFlowPersistence

from .conftest import Recorder

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent

# A flow module shared by the child process (which runs it until it is killed) and the
# test (which resumes it). Every step counts its runs in the state; step3 blocks on
# stdin in the child, which the test never writes to.
KILL_FLOW = """
import sys

from pydantic import BaseModel, Field

from anycrew.flow import Flow, listen, or_, persist, router, start
from anycrew.flow.persistence import FlowPersistence, PersistenceError, SQLiteFlowPersistence

block = False


class Progress(BaseModel):
    runs: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


def steps_flow(db_path):
    @persist(SQLiteFlowPersistence(db_path))
    class Steps(Flow[Progress]):
        def mark(self, name):
            self.state.runs[name] = self.state.runs.get(name, 0) + 1
            self.state.notes.append(name)

        @start()
        def step1(self):
            self.mark("step1")
            return 1

        @listen(step1)
        def step2(self, n):
            self.mark("step2")
            return n + 1

        @router(step2)
        def step3(self, n):
            if block:
                sys.stdin.readline()  # the test kills the process here
            self.mark("step3")
            return "onward" if n == 2 else "astray"

        @listen("onward")
        def step4(self):
            self.mark("step4")
            return 4

        @listen("astray")
        def wrong(self):
            self.mark("wrong")
            return "wrong"

        @listen(step4)
        def step5(self, n):
            self.mark("step5")
            return f"done after {n}"

    return Steps


if __name__ == "__main__":
    block = True
    steps_flow(sys.argv[1])().kickoff({"id": sys.argv[2]})
"""


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"killflow_{abs(hash(path))}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def saved_methods(db: Path, flow_id: str) -> list[str]:
    if not db.exists():  # read-only: never create the file under the child
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT method_name FROM flow_states WHERE flow_uuid = ? ORDER BY id", (flow_id,)
        ).fetchall()
    except sqlite3.OperationalError:  # the child has not created the table yet
        return []
    finally:
        conn.close()
    return [name for (name,) in rows]


async def test_a_killed_run_resumes_after_its_last_completed_method(
    tmp_path: Path, recorder: Recorder
) -> None:
    script = tmp_path / "killflow.py"
    script.write_text(textwrap.dedent(KILL_FLOW))
    db = tmp_path / "flows.db"
    child = subprocess.Popen(
        [sys.executable, str(script), str(db), "victim"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while "step2" not in saved_methods(db, "victim"):
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never completed step2"
            await anyio.sleep(0.02)  # polling another process's progress
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdin:
            child.stdin.close()
        if child.stderr:
            child.stderr.close()
    assert saved_methods(db, "victim") == ["step1", "step2"]

    steps = load_module(script).steps_flow(db)
    flow = steps()
    assert await flow.akickoff({"id": "victim"}) == "done after 4"
    # Nothing completed before the kill ran again; nothing saved before it was lost.
    assert flow.state.runs == {"step1": 1, "step2": 1, "step3": 1, "step4": 1, "step5": 1}
    assert flow.state.notes == ["step1", "step2", "step3", "step4", "step5"]
    started = [e.method_name for e in recorder.of(MethodExecutionStartedEvent)]
    assert started == ["step3", "step4", "step5"]
    assert flow.method_outputs == [1, 2, "onward", 4, "done after 4"]
    assert saved_methods(db, "victim") == ["step1", "step2", "step3", "step4", "step5"]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()

    # The run finished: resuming the id now starts a new run on the saved state.
    again = steps()
    await again.akickoff({"id": "victim"})
    assert again.state.runs["step1"] == 2


class Counts(BaseModel):
    runs: dict[str, int] = Field(default_factory=dict)


class Crashing(Flow[Counts]):
    """begin -> route (a router) -> go_left -> finish; go_left fails while ``broken``."""

    broken: ClassVar[bool] = False

    def mark(self, name: str) -> None:
        self.state.runs[name] = self.state.runs.get(name, 0) + 1

    @start()
    def begin(self) -> str:
        self.mark("begin")
        return "go left"

    @router(begin)
    def route(self, text: str) -> str:
        self.mark("route")
        return "left" if "left" in text else "right"

    @listen("left")
    async def go_left(self) -> str:
        if type(self).broken:
            raise RuntimeError("left is broken")
        self.mark("go_left")
        return "L"

    @listen("right")
    def go_right(self) -> str:
        self.mark("go_right")
        return "R"

    @listen(go_left)
    def finish(self, side: str) -> str:
        self.mark("finish")
        return f"finished {side}"


def crashing(store: SQLiteFlowPersistence, broken: bool) -> type[Crashing]:
    return persist(store)(type("Crashing", (Crashing,), {"broken": broken}))  # type: ignore[no-any-return]


@pytest.fixture
def store(tmp_path: Path) -> SQLiteFlowPersistence:
    return SQLiteFlowPersistence(tmp_path / "flows.db")


async def test_a_failed_run_resumes_on_the_branch_its_router_chose(
    store: SQLiteFlowPersistence, recorder: Recorder
) -> None:
    first = crashing(store, broken=True)()
    with pytest.raises(RuntimeError, match="left is broken"):
        await first.akickoff()
    recorder.events.clear()

    resumed = crashing(store, broken=False)()
    assert await resumed.akickoff({"id": first.flow_id}) == "finished L"
    assert resumed.state.runs == {"begin": 1, "route": 1, "go_left": 1, "finish": 1}
    assert [e.method_name for e in recorder.of(MethodExecutionStartedEvent)] == [
        "go_left",
        "finish",
    ]
    found = await store.load_snapshot(first.flow_id)
    assert found is not None
    _, progress = found
    assert progress is not None
    assert progress["finished"] is True
    assert [r["method"] for r in progress["completed"]] == ["begin", "route", "go_left", "finish"]
    assert progress["completed"][1]["label"] == "left"


class Waits(Flow[Counts]):
    """one -> two -> three; ``two`` waits for an event the test controls."""

    gate: ClassVar[anyio.Event | None] = None
    reached: ClassVar[anyio.Event | None] = None

    def mark(self, name: str) -> None:
        self.state.runs[name] = self.state.runs.get(name, 0) + 1

    @start()
    def one(self) -> int:
        self.mark("one")
        return 1

    @listen(one)
    async def two(self, n: int) -> int:
        cls = type(self)
        if cls.reached is not None and cls.gate is not None:
            cls.reached.set()
            await cls.gate.wait()
        self.mark("two")
        return n + 1

    @listen(two)
    def three(self, n: int) -> int:
        self.mark("three")
        return n + 1


async def cancel_at_two(flow: Flow[Any], inputs: dict[str, Any] | None = None) -> None:
    Waits.gate, Waits.reached = anyio.Event(), anyio.Event()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(flow.akickoff, inputs)
            await Waits.reached.wait()
            scope.cancel()
    assert scope.cancelled_caught
    Waits.gate = Waits.reached = None


async def test_a_cancelled_run_and_a_cancelled_resume_both_resume(
    store: SQLiteFlowPersistence, recorder: Recorder
) -> None:
    waits = persist(store)(type("Waits", (Waits,), {}))
    first = waits()
    await cancel_at_two(first)
    assert recorder.types[-1] == "flow_cancelled"
    # Cancelling the resumed run part-way leaves it resumable too.
    await cancel_at_two(waits(), {"id": first.flow_id})
    assert recorder.types[-2:] == ["method_execution_cancelled", "flow_cancelled"]
    recorder.events.clear()

    resumed = waits()
    assert await resumed.akickoff({"id": first.flow_id}) == 3
    assert resumed.state.runs == {"one": 1, "two": 1, "three": 1}
    assert [e.method_name for e in recorder.of(MethodExecutionStartedEvent)] == ["two", "three"]


async def test_methods_completed_between_saves_are_rerun(store: SQLiteFlowPersistence) -> None:
    # Only ``two`` saves: a resume replays what that save recorded (one, two); ``three``
    # failed before any later save, so it runs again.
    class Partial(Flow[Counts]):
        broken: ClassVar[bool] = True

        @start()
        def one(self) -> None:
            self.state.runs["one"] = self.state.runs.get("one", 0) + 1

        @persist(store)  # type: ignore[untyped-decorator]
        @listen(one)
        def two(self) -> None:
            self.state.runs["two"] = self.state.runs.get("two", 0) + 1

        @listen(two)
        def three(self) -> str:
            if type(self).broken:
                raise RuntimeError("three is broken")
            self.state.runs["three"] = self.state.runs.get("three", 0) + 1
            return "done"

    first = Partial()
    with pytest.raises(RuntimeError):
        await first.akickoff()
    Partial.broken = False
    resumed = Partial()
    assert await resumed.akickoff({"id": first.flow_id}) == "done"
    assert resumed.state.runs == {"one": 1, "two": 1, "three": 1}


def test_the_sync_entries_resume_too(store: SQLiteFlowPersistence) -> None:
    first = crashing(store, broken=True)()
    with pytest.raises(RuntimeError):
        first.kickoff()
    fixed = crashing(store, broken=False)
    assert fixed().kickoff({"id": first.flow_id}) == "finished L"

    second = crashing(store, broken=True)()
    with pytest.raises(RuntimeError):
        second.kickoff()

    async def through_the_shim() -> Any:
        flow = fixed()
        return await flow.kickoff_async({"id": second.flow_id}), flow.state.runs

    result, runs = anyio.run(through_the_shim)
    assert result == "finished L"
    assert runs == {"begin": 1, "route": 1, "go_left": 1, "finish": 1}


async def test_an_old_database_gains_the_progress_column(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        CREATE TABLE flow_states (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            flow_uuid TEXT NOT NULL,
            method_name TEXT NOT NULL,
            state_json TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        INSERT INTO flow_states (flow_uuid, method_name, state_json, created_at)
        VALUES ('old', 'begin', '{"id": "old", "runs": {"begin": 1}}', '2025-01-01');
        """
    )
    conn.close()
    store = SQLiteFlowPersistence(db)
    assert await store.load_snapshot("old") == ({"id": "old", "runs": {"begin": 1}}, None)

    # A snapshot without progress resumes as a new run on the loaded state.
    flow = crashing(store, broken=False)()
    assert await flow.akickoff({"id": "old"}) == "finished L"
    assert flow.state.runs == {"begin": 2, "route": 1, "go_left": 1, "finish": 1}
    assert [name for name, _ in await store.history("old")][:2] == ["begin", "begin"]
    conn = sqlite3.connect(db)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(flow_states)")]
    finally:
        conn.close()
    assert columns[-1] == "progress_json"


async def test_a_corrupt_progress_names_the_flow(store: SQLiteFlowPersistence) -> None:
    progress = {"run": "r", "completed": "x", "finished": False}
    await store.save_progress("bad", "begin", {"id": "bad"}, progress)
    with pytest.raises(PersistenceError, match="run progress of flow 'bad' is malformed"):
        await crashing(store, broken=False)().akickoff({"id": "bad"})


async def test_from_checkpoint_is_refused_before_anything_runs(
    store: SQLiteFlowPersistence, recorder: Recorder
) -> None:
    flow = crashing(store, broken=False)()
    message = r"CrewAI checkpoint .* inputs=\{'id': \.\.\.\}.* restore_from_state_id"
    with pytest.raises(NotImplementedError, match=message):
        await flow.akickoff(from_checkpoint="./.checkpoints/run.json")
    with pytest.raises(NotImplementedError, match=message):
        await flow.kickoff_async(from_checkpoint="./.checkpoints/run.json")
    with pytest.raises(NotImplementedError, match=message):
        await anyio.to_thread.run_sync(lambda: flow.kickoff(from_checkpoint="x"))
    assert recorder.events == []
    assert await store.history(flow.flow_id) == []


class MemoryStore(FlowPersistence):
    """A backend written before run progress existed: only the abstract methods."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, dict[str, Any]]] = []

    async def save_state(self, flow_uuid: str, method_name: str, state: Any) -> None:
        dumped = state.model_dump(mode="json") if isinstance(state, BaseModel) else dict(state)
        self.rows.append((flow_uuid, method_name, dumped))

    async def load_state(self, flow_uuid: str) -> dict[str, Any] | None:
        found = [state for uuid, _, state in self.rows if uuid == flow_uuid]
        return found[-1] if found else None

    async def save_pending_feedback(self, flow_uuid: str, context: dict[str, Any]) -> None:
        raise NotImplementedError

    async def load_pending_feedback(self, flow_uuid: str) -> dict[str, Any] | None:
        return None

    async def clear_pending_feedback(self, flow_uuid: str) -> None:
        return None

    async def history(self, flow_uuid: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, state) for uuid, name, state in self.rows if uuid == flow_uuid]


async def test_an_older_backend_still_resumes_by_starting_over() -> None:
    store = MemoryStore()
    first = persist(store)(type("Crashing", (Crashing,), {"broken": True}))()
    with pytest.raises(RuntimeError):
        await first.akickoff()
    fixed = persist(store)(type("Crashing", (Crashing,), {"broken": False}))()
    assert await fixed.akickoff({"id": first.flow_id}) == "finished L"
    # Without saved progress the loaded state runs again from the start methods.
    assert fixed.state.runs == {"begin": 2, "route": 2, "go_left": 1, "finish": 1}


class StallingStore(MemoryStore):
    """Takes each snapshot when a save starts (as SQLite does) and stalls the first
    save until a second one starts, or half a second: a backend whose first write is
    slow."""

    def __init__(self) -> None:
        super().__init__()
        self.first_started = anyio.Event()
        self.second_started = anyio.Event()
        self.saves = 0

    async def save_progress(
        self, flow_uuid: str, method_name: str, state: Any, progress: dict[str, Any]
    ) -> None:
        dumped = state.model_dump(mode="json") if isinstance(state, BaseModel) else dict(state)
        snapshot = (flow_uuid, method_name, {**dumped, "done": list(dumped["done"])})
        self.saves += 1
        if self.saves == 1:
            self.first_started.set()
            with anyio.move_on_after(0.5):
                await self.second_started.wait()
        else:
            self.second_started.set()
        self.rows.append(snapshot)


async def test_parallel_saves_land_in_the_order_their_snapshots_were_taken() -> None:
    # Two start methods save concurrently; the second finishes while the first save
    # is in flight. The latest row must hold both, or a resume would lose one.
    store = StallingStore()

    class Parallel(Flow[dict]):  # type: ignore[type-arg]
        @start()
        async def quick(self) -> None:
            self.state.setdefault("done", []).append("quick")

        @start()
        async def slow(self) -> None:
            await store.first_started.wait()
            self.state.setdefault("done", []).append("slow")

    flow = persist(store)(Parallel)()
    await flow.akickoff({"done": []})
    assert [state["done"] for _, _, state in store.rows] == [["quick"], ["quick", "slow"]]


class OrJoin(BaseModel):
    c_runs: int = 0
    d_runs: int = 0


async def test_a_resumed_or_listener_that_completed_does_not_run_again(tmp_path: Path) -> None:
    # The replayed starts finish at once; the OR listener they both trigger must
    # still count as one firing (it completed in the first run).
    store = SQLiteFlowPersistence(tmp_path / "flows.db")
    outage = {"on": True}

    @persist(store)
    class Joined(Flow[OrJoin]):
        @start()
        async def a(self) -> str:
            return "a"

        @start()
        async def b(self) -> str:
            return "b"

        @listen(or_(a, b))
        async def c(self) -> str:
            self.state.c_runs += 1
            return "c"

        @listen(c)
        async def d(self) -> str:
            self.state.d_runs += 1
            if outage["on"]:
                raise RuntimeError("outage in d")
            return "d"

    first = Joined()
    with pytest.raises(RuntimeError, match="outage in d"):
        await first.akickoff()
    assert first.state.c_runs == 1
    outage["on"] = False
    resumed = Joined()
    assert await resumed.akickoff({"id": first.flow_id}) == "d"
    # d failed before its save: the loaded state never counted that attempt.
    assert (resumed.state.c_runs, resumed.state.d_runs) == (1, 1)
