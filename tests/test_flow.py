"""Flows: wiring, concurrency, cancellation, state, entries, events and streaming."""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from anycrew import LLM
from anycrew.errors import InvalidInputError
from anycrew.events import (
    LLMCallStartedEvent,
    MethodExecutionCancelledEvent,
    MethodExecutionFinishedEvent,
    MethodExecutionStartedEvent,
)
from anycrew.flow import Flow, and_, listen, or_, router, start

from .conftest import Recorder, cancel_while_busy, make_crew

pytestmark = pytest.mark.anyio


def started_methods(recorder: Recorder) -> list[str]:
    return [e.method_name for e in recorder.of(MethodExecutionStartedEvent)]


class Counter(BaseModel):
    count: int = 0
    topic: str = "none"


class Chain(Flow[Counter]):
    @start()
    def first(self) -> str:
        self.state.count += 1
        return f"first({self.state.topic})"

    @listen(first)
    async def second(self, previous: str) -> str:
        self.state.count += 1
        return f"second({previous})"

    @listen("second")
    def third(self, previous: str) -> str:
        self.state.count += 1
        return f"third({previous})"


async def test_a_chain_passes_results_and_state(recorder: Recorder) -> None:
    flow = Chain()
    result = await flow.akickoff({"topic": "tides"})
    assert result == "third(second(first(tides)))"
    assert flow.state.count == 3
    assert flow.state.id == flow.flow_id
    assert flow.method_outputs == ["first(tides)", "second(first(tides))", result]
    assert started_methods(recorder) == ["first", "second", "third"]
    types = recorder.types
    assert types[:2] == ["flow_created", "flow_started"]
    assert types[-1] == "flow_finished"
    assert all(e.channel == "flow" for e in recorder.events)


class Mood(str, Enum):
    HAPPY = "happy"
    SAD = "sad"


class Routed(Flow[dict]):  # type: ignore[type-arg]
    @start()
    def classify(self) -> str:
        return str(self.state["text"])

    @router(classify)
    def route(self, text: str) -> Mood:
        return Mood.HAPPY if "yay" in text else Mood.SAD

    @listen(Mood.HAPPY.value)
    def cheer(self) -> str:
        return "cheer"

    @listen("sad")
    def console(self) -> str:
        return "console"


async def test_routers_pick_the_branch_by_label(recorder: Recorder) -> None:
    assert await Routed().akickoff({"text": "yay"}) == "cheer"
    assert await Routed().akickoff({"text": "meh"}) == "console"
    assert started_methods(recorder) == [
        "classify",
        "route",
        "cheer",
        "classify",
        "route",
        "console",
    ]
    assert "id" in Routed().state


class Joins(Flow[dict]):  # type: ignore[type-arg]
    @start()
    async def left(self) -> str:
        await anyio.sleep(0)
        return "L"

    @start()
    async def right(self) -> str:
        await anyio.sleep(0.01)
        return "R"

    @listen(or_(left, right))
    def either(self) -> str:
        return "either"

    @listen(and_(left, right))
    def both(self) -> str:
        return "both"


async def test_or_fires_once_and_and_waits_for_all(recorder: Recorder) -> None:
    await Joins().akickoff()
    methods = started_methods(recorder)
    assert methods.count("either") == 1
    assert methods.count("both") == 1
    assert methods.index("both") > methods.index("right")


class Loop(Flow[Counter]):
    @start()
    def begin(self) -> None:
        self.state.count = 0

    @router(or_("begin", "again"))
    def step(self) -> str:
        self.state.count += 1
        return "again" if self.state.count < 5 else "stop"

    @listen("again")
    def again_(self) -> None:
        return None

    @listen("stop")
    def done(self) -> int:
        return self.state.count


class Endless(Flow[dict]):  # type: ignore[type-arg]
    @start()
    def begin(self) -> None:
        return None

    @router(or_("begin", "again"))
    def step(self) -> str:
        return "again"


async def test_cycles_run_and_are_bounded() -> None:
    loop = Loop()
    await loop.akickoff()
    # The result itself is whichever method finished last: "done" races the last
    # "again_" (both sync, in worker threads), so check the state and the outputs.
    assert loop.state.count == 5
    assert loop.method_outputs.count(5) == 1
    with pytest.raises(RecursionError, match="max_method_calls=7"):
        await Endless(max_method_calls=7).akickoff()


class Overlap(Flow[dict]):  # type: ignore[type-arg]
    llm = LLM(model="sim", latency=0.5)

    @start()
    def go(self) -> None:
        return None

    @listen(go)
    async def one(self) -> str:
        return await self.llm.acall("one")

    @listen(go)
    async def two(self) -> str:
        return await self.llm.acall("two")

    @listen(go)
    def sync_three(self) -> str:
        return threading.current_thread().name


async def test_listeners_triggered_together_overlap(recorder: Recorder) -> None:
    await Overlap().akickoff()
    finished = {e.method_name: e.timestamp for e in recorder.of(MethodExecutionFinishedEvent)}
    assert abs((finished["one"] - finished["two"]).total_seconds()) < 0.5
    thread = [
        e.result for e in recorder.of(MethodExecutionFinishedEvent) if e.method_name == "sync_three"
    ]
    assert thread[0] != threading.current_thread().name  # sync methods run in worker threads


class Failing(Flow[dict]):  # type: ignore[type-arg]
    @start()
    def go(self) -> None:
        return None

    @listen(go)
    async def slow(self) -> None:
        await anyio.sleep_forever()

    @listen(go)
    async def broken(self) -> None:
        await anyio.wait_all_tasks_blocked()
        raise KeyError("bad branch")


async def test_a_failing_branch_cancels_its_sibling(recorder: Recorder) -> None:
    with pytest.raises(KeyError, match="bad branch"):
        await Failing().akickoff()
    (cancelled,) = recorder.of(MethodExecutionCancelledEvent)
    assert cancelled.method_name == "slow"
    assert recorder.types[-1] == "flow_failed"


class WithCrew(Flow[dict]):  # type: ignore[type-arg]
    crew = make_crew(3, llm=LLM(model="sim", latency=1.0))

    @start()
    async def research(self) -> str:
        result = await self.crew.akickoff({"topic": "flows"})
        return result.raw


class WithSyncCrew(Flow[dict]):  # type: ignore[type-arg]
    crew = make_crew(3, llm=LLM(model="sim", latency=1.0))

    @start()
    def research(self) -> str:  # a sync method: it runs in a worker thread
        result = self.crew.kickoff({"topic": "flows"})
        return str(result)


@pytest.mark.parametrize("flow_cls", [WithCrew, WithSyncCrew], ids=["await", "sync_kickoff"])
async def test_a_crew_inside_a_flow_nests_and_is_cancelled_with_it(
    flow_cls: type[Flow[Any]], recorder: Recorder
) -> None:
    with anyio.move_on_after(0.3) as scope:
        await flow_cls().akickoff()
    assert scope.cancelled_caught
    method = recorder.of(MethodExecutionStartedEvent)[0]
    crew_started = next(e for e in recorder.events if e.type == "crew_kickoff_started")
    assert crew_started.parent_event_id == method.event_id
    # One run: the crew's events share the flow's.
    assert len({e.run_id for e in recorder.events}) == 1
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    tail = recorder.types[-4:]
    assert tail == [
        "task_cancelled",
        "crew_kickoff_cancelled",
        "method_execution_cancelled",
        "flow_cancelled",
    ]


class Race(Flow[Counter]):
    locked = True

    @start()
    def go(self) -> None:
        return None

    async def _bump(self) -> None:
        if self.locked:
            async with self.state_lock:
                value = self.state.count
                await anyio.sleep(0)  # another listener runs here
                self.state.count = value + 1
        else:
            value = self.state.count
            await anyio.sleep(0)
            self.state.count = value + 1

    @listen(go)
    async def a(self) -> None:
        await self._bump()

    @listen(go)
    async def b(self) -> None:
        await self._bump()

    @listen(go)
    async def c(self) -> None:
        await self._bump()


async def test_state_lock_keeps_concurrent_updates() -> None:
    safe = Race()
    await safe.akickoff()
    assert safe.state.count == 3
    unsafe = Race()
    unsafe.locked = False
    await unsafe.akickoff()
    assert unsafe.state.count < 3  # the race the lock exists for


async def test_bad_inputs_fail_before_any_method(recorder: Recorder) -> None:
    with pytest.raises(InvalidInputError, match="field count"):
        await Chain().akickoff({"count": "many"})
    assert started_methods(recorder) == []

    class Empty(Flow[dict]):  # type: ignore[type-arg]
        pass

    with pytest.raises(TypeError, match="no @start"):
        Empty()


async def test_entries_agree(recorder: Recorder) -> None:
    results = [await Chain().akickoff({"topic": "x"})]
    shapes = [recorder.types]
    recorder.events.clear()
    results.append(await anyio.to_thread.run_sync(Chain().kickoff, {"topic": "x"}))
    shapes.append(recorder.types)
    recorder.events.clear()
    results.append(await Chain().kickoff_async({"topic": "x"}))
    shapes.append(recorder.types)
    assert results == ["third(second(first(x)))"] * 3
    assert shapes[0] == shapes[1] == shapes[2]


async def test_flow_frames_nest_and_an_early_close_cancels() -> None:
    async with Chain().astream({"topic": "s"}) as stream:
        frames = [f async for f in stream]
    assert [f.type for f in frames] == [
        "flow_created",  # a flow object's first run opens with it
        "flow_started",
        *["method_execution_started", "method_execution_finished"] * 3,
        "flow_finished",
    ]
    flow_id = frames[1].id
    assert all(f.parent_id == flow_id for f in frames[2:-1])
    assert frames[2].namespace == ["flow", "Chain", "first"]
    assert stream.result == "third(second(first(s)))"

    with Overlap(stream=True).kickoff() as sync_stream:
        for frame in sync_stream:
            if frame.type == "method_execution_started" and frame.data["method_name"] == "one":
                break
    assert sync_stream.is_cancelled


async def test_a_sync_kickoff_inside_a_flow_returns_its_output(recorder: Recorder) -> None:
    class Quick(Flow[dict]):  # type: ignore[type-arg]
        crew = make_crew(1)

        @start()
        def research(self) -> str:
            return str(self.crew.kickoff({"topic": "quick"}))

    assert await Quick().akickoff() == "Simulated answer to: Step 1: study quick"
    assert recorder.types[-1] == "flow_finished"
    assert len({e.run_id for e in recorder.events}) == 1


async def test_a_flow_built_in_async_code_with_async_handlers(recorder: Recorder) -> None:
    from anycrew.events import BaseEvent, event_bus

    seen: list[str] = []

    async def async_handler(source: Any, event: BaseEvent) -> None:
        seen.append(event.type)

    event_bus.register_handler(BaseEvent, async_handler)
    flow = Chain()  # building it emits nothing that would need awaiting here
    await flow.akickoff()
    await flow.akickoff()
    assert seen.count("flow_created") == 1
    assert seen.count("flow_started") == 2


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_a_sync_method_kicking_off_after_the_cancel_starts_nothing(entry: str) -> None:
    # The flow is cancelled while its sync method is busy; the crew the method then
    # kicks off must not run (on asyncio a watcher started in a cancelled scope is
    # never cancelled, so the relay checks before starting the nested run).
    busy = threading.Event()
    go = threading.Event()
    calls: list[str] = []

    def respond(messages: list[dict[str, Any]]) -> str:
        calls.append("inner")
        return "Final Answer: inner done"

    inner = make_crew(1, llm=LLM(model="sim", responder=respond))
    outcome: list[str] = []

    class Outer(Flow[dict]):  # type: ignore[type-arg]
        @start()
        def step(self) -> str:
            busy.set()
            go.wait(10)
            try:
                inner.kickoff({"topic": "t"})
            except BaseException as exc:
                outcome.append(type(exc).__name__)
                raise
            outcome.append("returned")
            return "x"

    scope = await cancel_while_busy(getattr(Outer(), entry), busy, go)

    assert scope.cancelled_caught
    assert calls == []
    assert len(outcome) == 1
    assert outcome[0] != "returned"
