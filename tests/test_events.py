"""The event bus: registration, ordering, nesting, isolation and delivery guarantees."""

from __future__ import annotations

import logging
import threading
import uuid
import warnings
from typing import Any, ClassVar

import anyio
import pytest

from anycrew import LLM, Crew
from anycrew.events import (
    AgentExecutionCompletedEvent,
    AgentExecutionStartedEvent,
    BaseEvent,
    BaseEventListener,
    CrewKickoffCompletedEvent,
    CrewKickoffStartedEvent,
    EventBus,
    LLMCallCompletedEvent,
    LLMCallStartedEvent,
    LLMStreamChunkEvent,
    TaskCompletedEvent,
    TaskStartedEvent,
    crewai_event_bus,
    event_bus,
)

from .conftest import Recorder, make_crew

pytestmark = pytest.mark.anyio


class NoteEvent(BaseEvent):
    text: str


class RoutedEvent(BaseEvent):
    channel: ClassVar[str] = "messages"
    type: str = "routed"


def test_event_envelope_defaults() -> None:
    event = NoteEvent(text="hi")
    assert event.type == "note"
    assert event.channel == "custom"
    assert RoutedEvent().type == "routed"
    assert CrewKickoffStartedEvent().type == "crew_kickoff_started"
    assert LLMStreamChunkEvent(chunk="x").channel == "llm"
    assert TaskStartedEvent().channel == "lifecycle"
    assert crewai_event_bus is event_bus
    with pytest.raises(TypeError, match="channel"):

        class Bad(BaseEvent):
            channel: ClassVar[str] = "nowhere"


async def test_sync_handler_sees_a_gapless_sequence(recorder: Recorder) -> None:
    await make_crew(3, llm=LLM(model="sim", stream=True)).akickoff({"topic": "seq"})
    assert [e.emission_sequence for e in recorder.events] == list(range(len(recorder.events)))
    assert len({e.run_id for e in recorder.events}) == 1
    previous = [e.previous_event_id for e in recorder.events]
    assert previous == [None] + [e.event_id for e in recorder.events[:-1]]
    assert len(recorder.of(LLMStreamChunkEvent)) > 3


async def test_async_handlers_see_the_same_order_on_the_callers_thread() -> None:
    seen: list[int | None] = []
    threads: set[int] = set()

    async def handler(source: Any, event: BaseEvent) -> None:
        await anyio.sleep(0)  # a handler that yields must not reorder anything
        seen.append(event.emission_sequence)
        threads.add(threading.get_ident())

    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, handler)
        await make_crew(2).akickoff({"topic": "x"})
    assert seen == list(range(14))
    assert threads == {threading.get_ident()}


async def test_starting_events_are_parents(recorder: Recorder) -> None:
    await make_crew(1).akickoff({"topic": "nest"})
    by_type = {e.type: e for e in recorder.events}
    crew = by_type["crew_kickoff_started"]
    task = by_type["task_started"]
    agent = by_type["agent_execution_started"]
    call = by_type["llm_call_started"]
    assert crew.parent_event_id is None
    assert task.parent_event_id == crew.event_id
    assert agent.parent_event_id == task.event_id
    assert call.parent_event_id == agent.event_id
    # A closing event sits beside its opening event and points back at it.
    for closing, opening in [
        ("llm_call_completed", call),
        ("agent_execution_completed", agent),
        ("task_completed", task),
        ("crew_kickoff_completed", crew),
    ]:
        assert by_type[closing].parent_event_id == opening.parent_event_id
        assert by_type[closing].started_event_id == opening.event_id
    assert call.task_name == "step1"
    assert call.agent_role == "Analyst of nest"
    assert isinstance(by_type["task_completed"], TaskCompletedEvent)


async def test_failure_events_sit_beside_their_opening_events_with_its_labels(
    recorder: Recorder,
) -> None:
    def responder(messages: list[dict[str, Any]]) -> str:
        raise LookupError("no answer")

    crew = make_crew(1, llm=LLM(model="sim", responder=responder))
    with pytest.raises(LookupError):
        await crew.akickoff({"topic": "fail"})
    by_type = {e.type: e for e in recorder.events}
    for closing, opening in [
        ("agent_execution_error", "agent_execution_started"),
        ("task_failed", "task_started"),
        ("crew_kickoff_failed", "crew_kickoff_started"),
    ]:
        assert by_type[closing].parent_event_id == by_type[opening].parent_event_id
        assert by_type[closing].started_event_id == by_type[opening].event_id
        assert by_type[closing].task_name == by_type[opening].task_name
        assert by_type[closing].agent_role == by_type[opening].agent_role
    assert by_type["task_failed"].task_name == "step1"
    assert by_type["task_failed"].agent_role is None
    assert by_type["agent_execution_error"].agent_role == "Analyst of fail"
    assert by_type["agent_execution_error"].task_name == "step1"
    assert by_type["llm_call_failed"].parent_event_id == by_type["agent_execution_started"].event_id


async def test_a_raising_handler_is_logged_and_changes_nothing(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(source: Any, event: BaseEvent) -> None:
        raise RuntimeError("handler bug")

    async def broken_async(source: Any, event: BaseEvent) -> None:
        raise RuntimeError("async handler bug")

    event_bus.register_handler(TaskStartedEvent, broken)
    event_bus.register_handler(TaskStartedEvent, broken_async)
    with caplog.at_level(logging.ERROR, logger="anycrew.events"):
        result = await make_crew(2).akickoff({"topic": "x"})
    assert result.raw == "Simulated answer to: Step 2: study x"
    assert len(recorder.events) == 14
    messages = [r.getMessage() for r in caplog.records]
    assert sum("broken raised" in m for m in messages) == 2
    assert sum("broken_async raised" in m for m in messages) == 2


async def test_every_handler_has_finished_when_kickoff_returns() -> None:
    done: list[str] = []

    async def slow(source: Any, event: BaseEvent) -> None:
        await anyio.sleep(0.01)
        done.append(event.type)

    def slow_sync(source: Any, event: BaseEvent) -> None:
        threading.Event().wait(0.01)
        done.append("sync:" + event.type)

    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, slow)
        event_bus.register_handler(BaseEvent, slow_sync)
        await make_crew(1).akickoff({"topic": "x"})
        assert done.count("crew_kickoff_completed") == 1
        assert done.count("sync:crew_kickoff_completed") == 1
        assert len(done) == 16


async def test_a_blocking_sync_handler_never_blocks_the_callers_loop() -> None:
    # The handler blocks until a task on the caller's loop releases it. If sync
    # handlers ran on the loop, that task could never run and the wait times out.
    released = threading.Event()
    outcomes: list[bool] = []

    def blocking(source: Any, event: CrewKickoffStartedEvent) -> None:
        outcomes.append(released.wait(5))

    async def release_soon() -> None:
        await anyio.sleep(0.01)
        released.set()

    with event_bus.scoped_handlers():
        event_bus.register_handler(CrewKickoffStartedEvent, blocking)
        async with anyio.create_task_group() as tg:
            tg.start_soon(release_soon)
            await make_crew(1).akickoff({"topic": "x"})
    assert outcomes == [True]


async def test_scoped_handlers_are_isolated() -> None:
    outside: list[str] = []
    inside: list[str] = []

    def record_outside(source: Any, event: CrewKickoffCompletedEvent) -> None:
        outside.append(event.type)

    event_bus.register_handler(CrewKickoffCompletedEvent, record_outside)
    try:
        with event_bus.scoped_handlers():
            event_bus.register_handler(
                CrewKickoffCompletedEvent, lambda s, e: inside.append(e.type)
            )
            await make_crew(1).akickoff({"topic": "in"})
        await make_crew(1).akickoff({"topic": "out"})
    finally:
        event_bus.off(CrewKickoffCompletedEvent, record_outside)
    assert inside == ["crew_kickoff_completed"]
    assert outside == ["crew_kickoff_completed"]


async def test_off_and_run_filters(recorder: Recorder) -> None:
    removed: list[str] = []
    other_run: list[str] = []

    def handler(source: Any, event: BaseEvent) -> None:
        removed.append(event.type)

    event_bus.register_handler(BaseEvent, handler)
    event_bus.off(BaseEvent, handler)
    event_bus.register_handler(BaseEvent, lambda s, e: other_run.append(e.type), run_id="nope")
    await make_crew(1).akickoff({"topic": "x"})
    assert removed == []
    assert other_run == []
    assert len(recorder.events) == 8


def test_registration_is_checked() -> None:
    bus = EventBus()
    with pytest.raises(TypeError, match="BaseEvent subclasses"):
        bus.register_handler(dict, lambda s, e: None)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="must be callable"):
        bus.register_handler(BaseEvent, "not callable")  # type: ignore[arg-type]


async def test_base_event_listener_registers_on_creation() -> None:
    class Tracker(BaseEventListener):
        def __init__(self) -> None:
            self.completed: list[str] = []
            super().__init__()

        def setup_listeners(self, crewai_event_bus: EventBus) -> None:
            @crewai_event_bus.on(AgentExecutionCompletedEvent)
            def on_done(source: Any, event: AgentExecutionCompletedEvent) -> None:
                self.completed.append(event.output)

    with event_bus.scoped_handlers():
        tracker = Tracker()
        await make_crew(2).akickoff({"topic": "x"})
    assert tracker.completed == [
        "Simulated answer to: Step 1: study x",
        "Simulated answer to: Step 2: study x",
    ]


async def test_custom_events_join_the_run_in_order(recorder: Recorder) -> None:
    async def callback(output: Any) -> None:
        await event_bus.aemit(output, NoteEvent(text="from async"))
        event_bus.emit(output, NoteEvent(text="from sync"))

    crew = make_crew(1, callback=callback)
    await crew.akickoff({"topic": "x"})
    notes = recorder.of(NoteEvent)
    assert [n.text for n in notes] == ["from async", "from sync"]
    assert {n.run_id for n in notes} == {recorder.events[0].run_id}
    assert [e.emission_sequence for e in recorder.events] == list(range(10))
    assert notes[0].parent_event_id == recorder.of(TaskStartedEvent)[0].event_id


async def test_events_outside_a_run_go_straight_to_handlers() -> None:
    got: list[str] = []

    async def async_handler(source: Any, event: NoteEvent) -> None:
        got.append("async " + event.text)

    with event_bus.scoped_handlers():
        event_bus.register_handler(NoteEvent, lambda s, e: got.append("sync " + e.text))
        await event_bus.aemit(None, NoteEvent(text="a"))
        event_bus.emit(None, NoteEvent(text="b"))  # sync handlers only: fine on a loop
        event_bus.register_handler(NoteEvent, async_handler)
        # Async handlers from a sync emit on a running loop: delivered on a helper
        # thread's loop (with a one-time warning that aemit would serve better).
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            event_bus.emit(None, NoteEvent(text="c"))
    assert got == ["sync a", "sync b", "sync c", "async c"]
    assert all("event_bus.aemit" in str(w.message) for w in caught)


def test_sync_emit_outside_any_loop_runs_async_handlers() -> None:
    got: list[str] = []

    async def async_handler(source: Any, event: NoteEvent) -> None:
        got.append(event.text)

    with event_bus.scoped_handlers():
        event_bus.register_handler(NoteEvent, async_handler)
        event_bus.emit(None, NoteEvent(text="plain"))
    assert got == ["plain"]


async def test_llm_events_carry_model_and_usage(recorder: Recorder) -> None:
    await make_crew(1, llm=LLM(model="sim/echo")).akickoff({"topic": "x"})
    (started,) = recorder.of(LLMCallStartedEvent)
    (completed,) = recorder.of(LLMCallCompletedEvent)
    assert started.model == completed.model == "sim/echo"
    assert started.call_id == completed.call_id
    assert isinstance(started.messages, list)
    assert started.messages[0]["role"] == "system"
    assert completed.usage is not None
    assert completed.usage["completion_tokens"] > 0
    assert recorder.of(AgentExecutionStartedEvent)[0].task_prompt.startswith("Current Task:")


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_events_from_worker_threads_join_the_run_in_order(
    entry: str, recorder: Recorder
) -> None:
    def sync_callback(output: Any) -> None:  # runs in a worker thread
        for n in range(3):
            event_bus.emit(output, NoteEvent(text=f"thread {n}"))

    def echo(source: Any, event: NoteEvent) -> None:  # a sync handler emitting, too
        if not event.text.startswith("echo"):
            event_bus.emit(source, NoteEvent(text=f"echo {event.text}"))

    event_bus.register_handler(NoteEvent, echo)
    await getattr(make_crew(1, callback=sync_callback), entry)({"topic": "x"})
    notes = [n.text for n in recorder.of(NoteEvent)]
    # The callback's thread and the handlers' thread interleave; each keeps its order.
    assert [n for n in notes if n.startswith("thread")] == ["thread 0", "thread 1", "thread 2"]
    assert [n for n in notes if n.startswith("echo")] == [
        "echo thread 0",
        "echo thread 1",
        "echo thread 2",
    ]
    assert [e.emission_sequence for e in recorder.events] == list(range(14))
    assert recorder.types.index("note") < recorder.types.index("task_completed")
    assert {e.run_id for e in recorder.events} == {recorder.events[0].run_id}


def test_event_ids_are_unique_uuid4_strings() -> None:
    import uuid

    ids = {NoteEvent(text="x").event_id for _ in range(10_000)}
    assert len(ids) == 10_000
    assert {uuid.UUID(i).version for i in ids} == {4}


async def test_what_a_handler_emits_nests_under_the_event_it_handles(recorder: Recorder) -> None:
    from anycrew.events import TaskCompletedEvent

    async def note_async(source: Any, event: TaskCompletedEvent) -> None:
        await event_bus.aemit(source, NoteEvent(text=f"async after {event.task_name}"))

    def note_sync(source: Any, event: TaskCompletedEvent) -> None:
        event_bus.emit(source, NoteEvent(text=f"sync after {event.task_name}"))

    event_bus.register_handler(TaskCompletedEvent, note_async)
    event_bus.register_handler(TaskCompletedEvent, note_sync)
    await make_crew(2).akickoff({"topic": "x"})
    completed = {e.event_id: e.task_name for e in recorder.of(TaskCompletedEvent)}
    notes = recorder.of(NoteEvent)
    assert len(notes) == 4
    for note in notes:
        assert note.text.endswith(f"after {completed[note.parent_event_id]}")
        # The handler runs in the run's context, not in the task's.
        assert note.task_name is None


async def test_a_sync_callback_flooding_events_waits_for_slow_handlers() -> None:
    seen = 0

    async def slow(source: Any, event: NoteEvent) -> None:
        nonlocal seen
        seen += 1
        await anyio.sleep(0)

    def flood(output: Any) -> None:
        for n in range(3000):
            event_bus.emit(output, NoteEvent(text=str(n)))

    with event_bus.scoped_handlers():
        event_bus.register_handler(NoteEvent, slow)
        crew = make_crew(1, callback=flood)
        await crew.akickoff({"topic": "x"})
    assert seen == 3000


@pytest.mark.anyio
async def test_unheard_lifecycle_events_are_not_built_but_spans_stay_linked() -> None:
    # With a handler only for LLM calls, the crew, task and agent events nobody
    # receives are not built: the LLM call is the run's first stamped event, and it
    # still nests under the agent's span (an id allocated without the event).
    from anycrew.events import LLMCallCompletedEvent, LLMCallStartedEvent

    seen: list[Any] = []
    with event_bus.scoped_handlers():
        event_bus.register_handler(LLMCallStartedEvent, lambda source, event: seen.append(event))
        event_bus.register_handler(LLMCallCompletedEvent, lambda source, event: seen.append(event))
        output = await make_crew(1).akickoff({"topic": "t"})
    assert output.raw
    started, completed = seen
    assert (started.emission_sequence, completed.emission_sequence) == (0, 1)
    assert started.parent_event_id is not None
    assert completed.started_event_id == started.event_id
    assert completed.previous_event_id == started.event_id


async def test_a_handler_registered_mid_run_hears_the_rest_of_it() -> None:
    heard: list[str] = []

    def on_completed(source: Any, event: BaseEvent) -> None:
        heard.append(type(event).__name__)

    def responder(messages: list[dict[str, Any]]) -> str:
        if not heard and on_completed not in registered:
            # The run started with no handler at all; from here on it has one.
            event_bus.register_handler(TaskCompletedEvent, on_completed)
            event_bus.register_handler(CrewKickoffCompletedEvent, on_completed)
            registered.append(on_completed)
        return "Final Answer: done"

    registered: list[Any] = []
    with event_bus.scoped_handlers():
        registry = event_bus.active_registry()
        assert registry.quiet
        await make_crew(2, llm=LLM(model="sim", responder=responder)).akickoff({"topic": "t"})
        assert heard == ["TaskCompletedEvent", "TaskCompletedEvent", "CrewKickoffCompletedEvent"]
        assert not registry.quiet
        event_bus.off(TaskCompletedEvent, on_completed)
        assert not registry.quiet
        event_bus.off(CrewKickoffCompletedEvent, on_completed)
        assert registry.quiet


async def test_copies_with_a_new_id_label_events_with_it(recorder: Recorder) -> None:
    crew = make_crew(1)
    await crew.akickoff({"topic": "first"})  # the originals' id texts are made and kept
    agent = crew.agents[0].model_copy(update={"id": uuid.uuid4()})
    task = crew.tasks[0].model_copy(update={"id": uuid.uuid4(), "agent": agent})
    recorder.events.clear()
    await Crew(agents=[agent], tasks=[task]).akickoff({"topic": "second"})
    (started,) = recorder.of(AgentExecutionStartedEvent)
    assert (started.task_id, started.agent_id) == (str(task.id), str(agent.id))
    assert str(task.id) != str(crew.tasks[0].id)
