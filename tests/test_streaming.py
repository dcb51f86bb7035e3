"""Stream sessions: the frame contract, projections, results, early close, backpressure."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from typing import Any

import anyio
import pytest

from anycrew import LLM, Agent, Crew, Task
from anycrew.errors import InvalidInputError
from anycrew.events import BaseEvent, LLMCallStartedEvent, event_bus
from anycrew.types.streaming import (
    AsyncStreamSession,
    CrewStreamingOutput,
    StreamChunk,
    StreamChunkType,
    StreamFrame,
    StreamSession,
)

from .conftest import Recorder, make_crew, settle_threads, warm_thread_pools

pytestmark = pytest.mark.anyio

NOT_DONE = "Streaming has not completed yet. Iterate over all frames before accessing result."


class Counted:
    """A simulator LLM that counts the calls it starts."""

    def __init__(self, **params: Any) -> None:
        self.started = 0
        self.llm = LLM(model="sim", responder=self._respond, **params)

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        self.started += 1
        return "Final Answer: " + messages[-1]["content"].splitlines()[0]


def _check_frames(frames: list[StreamFrame]) -> None:
    assert [f.seq for f in frames] == list(range(len(frames)))
    types = [f.type for f in frames]
    assert types[0] == "crew_kickoff_started"
    assert types[-1] == "crew_kickoff_completed"
    by_type = {f.type: f for f in frames}
    for lifecycle in ("crew_kickoff_started", "task_started", "agent_execution_started"):
        assert by_type[lifecycle].channel == "lifecycle"
    for llm in ("llm_call_started", "llm_stream_chunk", "llm_call_completed"):
        assert by_type[llm].channel == "llm"
    chunk = by_type["llm_stream_chunk"]
    assert chunk.content == chunk.data["chunk"] == chunk.event["chunk"]
    assert chunk.namespace == ["llm", chunk.data["call_id"], "Analyst of t", "step2"]
    assert by_type["task_started"].namespace == ["lifecycle", "step2"]
    assert by_type["task_started"].content == ""
    task = by_type["task_started"]
    assert task.parent_id == by_type["crew_kickoff_started"].id
    assert all(f.version == "v1" for f in frames)
    assert "event_id" not in task.data
    assert "emission_sequence" not in task.data
    assert task.data["task_name"] == "step2"  # the last task_started seen
    text = "".join(f.content for f in frames if f.type == "llm_stream_chunk")
    assert "Simulated answer to: Step 1: study t" in text


def test_sync_session_frames_and_result() -> None:
    crew = make_crew(2)
    with crew.stream_events({"topic": "t"}) as stream:
        assert isinstance(stream, StreamSession)
        with pytest.raises(RuntimeError, match="not completed yet"):
            _ = stream.result
        frames = list(stream)
    assert stream.is_exhausted
    assert stream.is_completed
    assert not stream.is_cancelled
    _check_frames(frames)
    assert stream.frames == frames
    assert stream.result.raw == "Simulated answer to: Step 2: study t"


async def test_async_session_frames_and_result() -> None:
    crew = make_crew(2)
    async with crew.astream({"topic": "t"}) as stream:
        assert isinstance(stream, AsyncStreamSession)
        with pytest.raises(RuntimeError) as info:
            _ = stream.result
        assert str(info.value) == NOT_DONE
        frames = [frame async for frame in stream]
    _check_frames(frames)
    assert stream.result.raw == "Simulated answer to: Step 2: study t"


async def test_interleave_keeps_the_global_order_and_projections_replay() -> None:
    crew = make_crew(2)
    async with crew.astream({"topic": "t"}) as stream:
        chosen = [f async for f in stream.interleave(["llm", "lifecycle"])]
    everything = stream.frames
    assert chosen == [f for f in everything if f.channel in ("llm", "lifecycle")]
    assert [f async for f in stream.llm] == [f for f in everything if f.channel == "llm"]
    assert [f async for f in stream.events] == everything
    assert [f async for f in stream.tools] == []
    with pytest.raises(ValueError, match="unknown channel"):
        stream.interleave(["llm", "gossip"])
    with pytest.raises(TypeError, match="list of channels"):
        stream.interleave("llm")


def test_reading_one_projection_drives_the_run_to_its_end() -> None:
    stream = make_crew(3).stream_events({"topic": "t"})
    llm_frames = list(stream.llm)
    assert {f.channel for f in llm_frames} == {"llm"}
    assert stream.is_exhausted
    assert stream.result.raw == "Simulated answer to: Step 3: study t"
    assert len(stream.frames) > len(llm_frames)


async def test_a_failing_run_raises_from_iteration_and_result() -> None:
    def broken(messages: list[dict[str, Any]]) -> str:
        raise ValueError("model fell over")

    crew = make_crew(1, llm=LLM(model="sim", responder=broken))
    seen: list[str] = []

    async def read_all(stream: AsyncStreamSession) -> None:
        async for frame in stream:
            seen.append(frame.type)

    async with crew.astream({"topic": "t"}) as stream:
        with pytest.raises(ValueError, match="model fell over"):
            await read_all(stream)
    assert seen[-1] == "crew_kickoff_failed"
    with pytest.raises(ValueError, match="model fell over"):
        _ = stream.result
    assert not stream.is_completed

    sync_stream = crew.stream_events({"topic": "t"})
    with pytest.raises(ValueError, match="model fell over"):
        list(sync_stream)
    with pytest.raises(ValueError, match="model fell over"):
        _ = sync_stream.result


def test_bad_inputs_fail_when_the_session_is_made() -> None:
    with pytest.raises(InvalidInputError, match="missing input 'topic'"):
        make_crew(1).stream_events({})
    with pytest.raises(InvalidInputError, match="missing input 'topic'"):
        make_crew(1).astream({})


async def test_two_concurrent_sessions_of_one_crew_see_only_their_own_frames() -> None:
    crew = make_crew(2, llm=LLM(model="sim", latency=0.01))
    results: dict[str, list[StreamFrame]] = {}

    async def read(topic: str) -> None:
        async with crew.astream({"topic": topic}) as stream:
            results[topic] = [f async for f in stream]

    async with anyio.create_task_group() as tg:
        tg.start_soon(read, "apples")
        tg.start_soon(read, "pears")
    for topic, other in (("apples", "pears"), ("pears", "apples")):
        frames = results[topic]
        assert len({f.data["run_id"] for f in frames}) == 1
        assert [f.seq for f in frames] == list(range(len(frames)))
        text = " ".join(str(f.data) for f in frames)
        assert topic in text
        assert other not in text


@pytest.mark.parametrize("kind", ["astream", "astream_without_with", "stream_events"])
async def test_closing_early_cancels_the_run(kind: str, recorder: Recorder) -> None:
    counted = Counted(latency=1.0)
    crew = make_crew(3, llm=counted.llm)
    await warm_thread_pools()
    threads_before = threading.active_count()

    if kind == "astream":
        async with crew.astream({"topic": "t"}) as stream:
            async for _ in stream:
                closing = time.monotonic()
                break
        closed = time.monotonic()
    elif kind == "astream_without_with":
        stream = crew.astream({"topic": "t"})
        async for _ in stream:
            break
        closing = time.monotonic()
        await stream.aclose()
        closed = time.monotonic()
    else:

        def read_one_and_close() -> tuple[float, float]:
            with crew.stream_events({"topic": "t"}) as sync_stream:
                for _ in sync_stream:
                    closing = time.monotonic()
                    break
            return closing, time.monotonic()

        closing, closed = await anyio.to_thread.run_sync(read_one_and_close)

    assert closed - closing < 0.2
    assert counted.started == 1
    assert len(recorder.of(LLMCallStartedEvent)) == 1
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    deadline = time.monotonic() + 0.5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        await anyio.sleep(0.01)
    assert threading.active_count() <= threads_before


async def test_a_cancelled_reader_cancels_the_run(recorder: Recorder) -> None:
    counted = Counted(latency=1.0)
    crew = make_crew(2, llm=counted.llm)
    with anyio.move_on_after(0.1) as scope:
        async with crew.astream({"topic": "t"}) as stream:
            async for _ in stream:
                pass
    assert scope.cancelled_caught
    assert stream.is_cancelled
    assert counted.started == 1
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    with pytest.raises(RuntimeError, match="closed before it completed"):
        _ = stream.result


def _streaming_crew(llm: LLM, n_tasks: int = 2) -> Crew:
    agent = Agent(role="Writer", goal="g", backstory="b", llm=llm)
    tasks = [
        Task(description=f"Part {i} on {{topic}}", expected_output="x", agent=agent, name=f"p{i}")
        for i in range(n_tasks)
    ]
    return Crew(agents=[agent], tasks=tasks, stream=True)


async def test_crew_stream_true_yields_labelled_chunks() -> None:
    crew = _streaming_crew(LLM(model="sim"))
    output = await crew.akickoff({"topic": "rain"})
    assert isinstance(output, CrewStreamingOutput)
    chunks = [chunk async for chunk in output]
    assert all(isinstance(c, StreamChunk) and c.chunk_type is StreamChunkType.TEXT for c in chunks)
    assert {c.task_index for c in chunks} == {0, 1}
    first = [c for c in chunks if c.task_index == 0]
    assert {(c.task_name, c.agent_role) for c in first} == {("p0", "Writer")}
    assert all(c.task_id == str(crew.tasks[c.task_index].id) for c in chunks)
    assert all(c.agent_id == str(crew.agents[0].id) for c in chunks)
    assert output.result.raw == "Simulated answer to: Part 1 on rain"
    assert output.get_full_text().endswith("Final Answer: Simulated answer to: Part 1 on rain")
    assert output.is_completed


def test_crew_stream_true_sync_and_for_each() -> None:
    crew = _streaming_crew(LLM(model="sim"), n_tasks=1)
    output = crew.kickoff({"topic": "sun"})
    assert isinstance(output, CrewStreamingOutput)
    text = "".join(str(c) for c in output)
    assert text.endswith("Simulated answer to: Part 0 on sun")
    merged = crew.kickoff_for_each([{"topic": "a"}, {"topic": "b"}])
    assert isinstance(merged, CrewStreamingOutput)
    assert len(list(merged)) == 30
    assert [r.raw for r in merged.results] == [
        "Simulated answer to: Part 0 on a",
        "Simulated answer to: Part 0 on b",
    ]


@pytest.mark.parametrize("how", ["break", "drop", "close"])
async def test_crew_stream_true_stops_when_the_reader_leaves(how: str, recorder: Recorder) -> None:
    # The first call streams slowly, so the reader leaves in the middle of it.
    counted = Counted(stream=True, tokens_per_second=5)
    crew = _streaming_crew(counted.llm, n_tasks=3)
    await warm_thread_pools()
    threads_before = threading.active_count()

    output = await crew.akickoff({"topic": "t"})
    assert isinstance(output, CrewStreamingOutput)
    started = time.monotonic()
    if how == "break":
        with anyio.fail_after(5):
            async for _ in output:
                break
    elif how == "close":
        with anyio.fail_after(5):
            async for _ in output:
                await output.aclose()
                break
    else:
        iterator = output.__aiter__()
        with anyio.fail_after(5):
            await iterator.__anext__()
        del iterator, output
        gc.collect()
    assert time.monotonic() - started < 0.5  # the first chunk comes at once, then a quick stop
    # Breaking out or dropping only requests the stop; the helper thread ends a moment later.
    assert settle_threads(threads_before) <= threads_before
    assert counted.started == 1
    assert recorder.types[-1] == "crew_kickoff_cancelled"


def test_dropping_an_unread_sync_session_stops_its_thread() -> None:
    counted = Counted(latency=1.0)
    stream = make_crew(3, llm=counted.llm).stream_events({"topic": "t"})
    threads_before = threading.active_count()
    next(iter(stream))
    assert threading.active_count() == threads_before + 1
    del stream
    gc.collect()
    assert settle_threads(threads_before) == threads_before
    assert counted.started == 1


def test_backpressure_keeps_memory_flat_and_loses_nothing() -> None:
    def measure(n_chunks: int) -> tuple[int, int]:
        llm = LLM(model="sim", stream=True, replies=["x " * n_chunks])
        crew = make_crew(1, llm=llm)
        stream = crew.stream_events({"topic": "t"}, buffer_size=16, keep_frames=False)
        tracemalloc.start()
        tracemalloc.reset_peak()
        chunks = 0
        for position, frame in enumerate(stream.llm):
            if frame.type == "llm_stream_chunk":
                chunks += 1
            if position % 2000 == 0:
                time.sleep(0.001)  # a slow reader: the run must wait for it
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return chunks, peak

    measure(100)  # first-use allocations out of the way
    small_chunks, small_peak = measure(2_000)
    big_chunks, big_peak = measure(20_000)
    assert (small_chunks, big_chunks) == (2_000, 20_000)
    # Ten times the chunks, not ten times the memory: only the reply text itself
    # (held by the simulator and the final answer) grows with the stream.
    assert big_peak < small_peak * 3


async def test_llm_stream_events_streams_one_call_only() -> None:
    llm = LLM(model="sim", replies=["alpha beta gamma"])
    async with llm.astream_events("go") as stream:
        frames = [f async for f in stream]
    assert [f.type for f in frames] == [
        "llm_call_started",
        "llm_stream_chunk",
        "llm_stream_chunk",
        "llm_stream_chunk",
        "llm_call_completed",
    ]
    assert "".join(f.content for f in frames) == "alpha beta gamma"
    assert stream.result == "alpha beta gamma"
    assert llm.stream is False

    with llm.stream_events([{"role": "user", "content": "again"}]) as sync_stream:
        text = "".join(frame.content for frame in sync_stream)
    assert text == "alpha beta gamma"
    assert sync_stream.result == "alpha beta gamma"


async def test_handlers_and_sessions_both_see_every_event() -> None:
    seen: list[int | None] = []
    with event_bus.scoped_handlers():
        event_bus.register_handler(BaseEvent, lambda s, e: seen.append(e.emission_sequence))
        async with make_crew(1).astream({"topic": "t"}) as stream:
            frames = [f async for f in stream]
    assert seen == [f.seq for f in frames]


async def test_a_read_that_times_out_loses_no_frame() -> None:
    llm = LLM(model="sim", stream=True, tokens_per_second=400, replies=["a b c d e f g h i j"])
    stream = make_crew(2, llm=llm).astream({"topic": "t"})  # no async with: helper thread
    iterator = stream.events
    frames: list[StreamFrame] = []
    timeouts = 0
    with anyio.fail_after(10):
        while not stream.is_exhausted:
            with anyio.move_on_after(0.001) as scope:
                try:
                    frames.append(await iterator.__anext__())
                except StopAsyncIteration:
                    break
            timeouts += scope.cancelled_caught
    assert timeouts > 0  # the reads really were cut short
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert frames[-1].type == "crew_kickoff_completed"


async def test_closing_before_the_run_opens_leaves_nothing_open() -> None:
    # Unclosed streams would raise ResourceWarning, an error in this suite.
    async with make_crew(1).astream({"topic": "t"}) as stream:
        pass
    assert stream.is_cancelled
    gc.collect()


def test_frames_respect_excluded_and_computed_fields() -> None:
    from pydantic import Field, computed_field

    class Login(BaseEvent):
        user: str
        token: str = Field("sk-live-123", exclude=True)

        @computed_field  # type: ignore[prop-decorator]
        @property
        def shout(self) -> str:
            return self.user.upper()

    frame = StreamFrame.from_event(Login(user="ada"))
    assert frame.data["shout"] == "ADA"
    assert "token" not in frame.data
    assert "sk-live-123" not in frame.model_dump_json()


async def test_a_session_opened_inside_a_run_ends_with_its_own_run() -> None:
    inner = make_crew(1, name="inner")
    seen: list[str] = []

    async def callback(output: Any) -> None:
        async with inner.astream({"topic": "inner"}) as stream:
            seen.extend([f.type async for f in stream])
        seen.append("done:" + stream.result.raw)

    outer = make_crew(1, callback=callback, name="outer")
    with anyio.fail_after(10):
        await outer.akickoff({"topic": "outer"})
    assert seen[0] == "crew_kickoff_started"
    assert seen[-2] == "crew_kickoff_completed"
    assert seen[-1] == "done:Simulated answer to: Step 1: study inner"
