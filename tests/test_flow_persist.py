"""@persist on flows: saving, resuming by id, and forking with restore_from_state_id."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from anycrew.flow import Flow, listen, persist, start
from anycrew.flow.persistence import SQLiteFlowPersistence

pytestmark = pytest.mark.anyio


class Tally(BaseModel):
    count: int = 0
    note: str = ""


def counting_flow(store: SQLiteFlowPersistence) -> type[Flow[Tally]]:
    @persist(store)
    class Counting(Flow[Tally]):
        @start()
        def bump(self) -> int:
            self.state.count += 1
            return self.state.count

        @listen(bump)
        def mark(self) -> str:
            self.state.note = f"seen {self.state.count}"
            return self.state.note

    return Counting


@pytest.fixture
def store(tmp_path: Path) -> SQLiteFlowPersistence:
    return SQLiteFlowPersistence(tmp_path / "flows.db")


async def test_every_completed_method_is_saved(store: SQLiteFlowPersistence) -> None:
    flow = counting_flow(store)()
    await flow.akickoff()
    history = await store.history(flow.flow_id)
    assert [name for name, _ in history] == ["bump", "mark"]
    assert history[-1][1] == flow.state.model_dump(mode="json")
    assert await store.load_state(flow.flow_id) == history[-1][1]


async def test_resume_by_id_continues_under_the_same_id(store: SQLiteFlowPersistence) -> None:
    counting = counting_flow(store)
    first = counting()
    await first.akickoff()
    again = counting()
    assert await again.akickoff({"id": first.flow_id}) == "seen 2"
    assert again.flow_id == first.flow_id
    assert len(await store.history(first.flow_id)) == 4


async def test_the_fork_matrix(store: SQLiteFlowPersistence) -> None:
    counting = counting_flow(store)
    source = counting()
    await source.akickoff()
    source_history = await store.history(source.flow_id)

    fresh = counting()  # no id, no source: a fresh run
    await fresh.akickoff()
    assert fresh.state.count == 1
    assert fresh.flow_id != source.flow_id

    fork = counting()  # source only: hydrated, under a new id
    await fork.akickoff(restore_from_state_id=source.flow_id)
    assert fork.state.count == 2
    assert fork.flow_id not in (source.flow_id, fresh.flow_id)

    pinned = counting()  # source and a pinned id: hydrated, under the pinned id
    await pinned.akickoff({"id": "pinned-1"}, restore_from_state_id=source.flow_id)
    assert (pinned.flow_id, pinned.state.count) == ("pinned-1", 2)

    # The source's history is untouched by the forks.
    assert await store.history(source.flow_id) == source_history
    assert [n for n, _ in await store.history("pinned-1")] == ["bump", "mark"]


async def test_fork_edge_cases(store: SQLiteFlowPersistence) -> None:
    counting = counting_flow(store)
    unknown = counting()
    await unknown.akickoff(restore_from_state_id="no-such-flow")  # falls back to fresh
    assert unknown.state.count == 1
    assert unknown.flow_id != "no-such-flow"

    plain = counting()
    assert await plain.akickoff(restore_from_state_id=None) == "seen 1"

    with pytest.raises(ValueError, match="restore_from_state_id and from_checkpoint"):
        await counting().akickoff(restore_from_state_id="x", from_checkpoint="y")
    with pytest.raises(ValueError, match="restore_from_state_id and from_checkpoint"):
        counting().kickoff(restore_from_state_id="x", from_checkpoint="y")


async def test_persist_on_one_method(store: SQLiteFlowPersistence) -> None:
    class Partial(Flow[Tally]):
        @start()
        def first(self) -> None:
            self.state.count = 1

        @persist(store)
        @listen(first)
        def second(self) -> None:
            self.state.count = 2

    flow = Partial()
    await flow.akickoff()
    assert [name for name, _ in await store.history(flow.flow_id)] == ["second"]


def test_kickoff_and_kickoff_async_resume_too(store: SQLiteFlowPersistence) -> None:
    import anyio

    counting = counting_flow(store)
    first = counting()
    first.kickoff()
    resumed = counting()
    assert resumed.kickoff({"id": first.flow_id}) == "seen 2"

    async def through_the_shim() -> object:
        return await counting().kickoff_async({"id": first.flow_id})

    assert anyio.run(through_the_shim) == "seen 3"
