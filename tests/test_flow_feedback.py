"""@human_feedback on flow methods: providers, routing by outcome, pausing and resuming."""

from __future__ import annotations

import io
import os
import pickle
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from pydantic import BaseModel

import anycrew
from anycrew import LLM
from anycrew.events import (
    FlowPausedEvent,
    HumanFeedbackReceivedEvent,
    HumanFeedbackRequestedEvent,
    LLMCallStartedEvent,
    MethodExecutionCancelledEvent,
    MethodExecutionPausedEvent,
    MethodExecutionStartedEvent,
    event_bus,
)
from anycrew.flow import (
    Flow,
    HumanFeedbackResult,
    human_feedback,
    listen,
    or_,
    persist,
    router,
    start,
)
from anycrew.flow.async_feedback import (
    ConsoleProvider,
    HumanFeedbackPending,
    HumanFeedbackProvider,
    PendingFeedbackContext,
)
from anycrew.flow.persistence import FlowPersistence, PersistenceError, SQLiteFlowPersistence

from .conftest import Recorder

pytestmark = pytest.mark.anyio


class Article(BaseModel):
    topic: str = ""
    drafts: int = 0
    reviews: int = 0
    published: int = 0
    revisions: int = 0


class Scripted:
    """A sync provider answering from a list; it records what it was asked, and where."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.contexts: list[PendingFeedbackContext] = []
        self.threads: list[str] = []

    def request_feedback(self, context: PendingFeedbackContext, flow: Flow[Any]) -> str:
        self.contexts.append(context)
        self.threads.append(threading.current_thread().name)
        return self.answers.pop(0)


class AsyncScripted(Scripted):
    async def request_feedback(  # type: ignore[override]
        self, context: PendingFeedbackContext, flow: Flow[Any]
    ) -> str:
        await anyio.lowlevel.checkpoint()
        return super().request_feedback(context, flow)


class Pausing:
    """A provider that hands the review to an outside system and pauses the flow."""

    def __init__(self) -> None:
        self.asked = 0

    def request_feedback(self, context: PendingFeedbackContext, flow: Flow[Any]) -> str:
        self.asked += 1
        raise HumanFeedbackPending(context=context, callback_info={"ticket": f"T-{self.asked}"})


def article_flow(provider: Any, llm: LLM | None = None) -> type[Flow[Article]]:
    """draft -> review (routes approved/rejected) -> publish, or revise -> review again."""

    class Publishing(Flow[Article]):
        @start()
        def draft(self) -> str:
            self.state.drafts += 1
            return f"draft on {self.state.topic}"

        @listen(or_(draft, "revise"))
        @human_feedback(
            message="Publish this?",
            emit=["approved", "rejected"],
            llm=llm or LLM(model="sim", replies=["approved"]),
            default_outcome="rejected",
            provider=provider,
        )
        def review(self) -> str:
            self.state.reviews += 1
            return f"ARTICLE v{self.state.reviews} on {self.state.topic}"

        @listen("approved")
        def publish(self, result: HumanFeedbackResult) -> str:
            self.state.published += 1
            return f"published {result.output} after {result.feedback!r}"

        @listen("rejected")
        def revise(self, result: HumanFeedbackResult) -> str:
            self.state.revisions += 1
            return f"revising after {result.feedback!r}"

    return Publishing


@pytest.fixture
def store(tmp_path: Path) -> SQLiteFlowPersistence:
    return SQLiteFlowPersistence(tmp_path / "flows.db")


def started(recorder: Recorder) -> list[str]:
    return [e.method_name for e in recorder.of(MethodExecutionStartedEvent)]


# -- routing and results ---------------------------------------------------------------


async def test_emit_collapses_feedback_with_the_llm_and_routes(recorder: Recorder) -> None:
    prompts: list[str] = []

    def judge(messages: list[dict[str, str]]) -> str:
        prompts.append(messages[-1]["content"])
        return "Approved." if "ship" in messages[-1]["content"] else "rejected"

    provider = Scripted("not yet, fix the intro", "ship it")
    flow = article_flow(provider, LLM(model="sim", responder=judge))()
    result = await flow.akickoff({"topic": "owls"})

    assert result == "published ARTICLE v2 on owls after 'ship it'"
    assert started(recorder) == ["draft", "review", "revise", "review", "publish"]
    assert (flow.state.reviews, flow.state.revisions, flow.state.published) == (2, 1, 1)
    assert len(prompts) == 2
    assert "approved, rejected" in prompts[0]
    assert [c.method_output for c in provider.contexts] == [
        "ARTICLE v1 on owls",
        "ARTICLE v2 on owls",
    ]
    first, last = flow.human_feedback_history
    assert (first.feedback, first.outcome) == ("not yet, fix the intro", "rejected")
    assert flow.last_human_feedback is last
    assert (last.output, last.outcome, last.method_name) == (
        "ARTICLE v2 on owls",
        "approved",
        "review",
    )
    # The router's own result is its outcome; the events tell the review's story.
    assert flow.method_outputs[1] == "rejected"
    received = recorder.of(HumanFeedbackReceivedEvent)
    assert [(e.feedback, e.outcome) for e in received] == [
        ("not yet, fix the intro", "rejected"),
        ("ship it", "approved"),
    ]
    requested = recorder.of(HumanFeedbackRequestedEvent)[0]
    assert (requested.output, requested.emit) == ("ARTICLE v1 on owls", ["approved", "rejected"])


async def test_empty_feedback_takes_the_default_outcome_without_an_llm_call(
    recorder: Recorder,
) -> None:
    provider = Scripted("", "   ", "yes")
    flow = article_flow(provider, LLM(model="sim", replies=["approved"]))()
    await flow.akickoff({"topic": "bees"})
    assert [r.outcome for r in flow.human_feedback_history] == ["rejected", "rejected", "approved"]
    assert len(recorder.of(LLMCallStartedEvent)) == 1  # only the non-empty feedback


async def test_an_unclear_llm_answer_falls_back_to_the_default(recorder: Recorder) -> None:
    flow = article_flow(Scripted("hmm", "fine"), LLM(model="sim", replies=["maybe?", "approved"]))()
    await flow.akickoff()
    assert [r.outcome for r in flow.human_feedback_history] == ["rejected", "approved"]


class Notes(Flow[dict]):  # type: ignore[type-arg]
    provider = Scripted()

    @start()
    @human_feedback(message="Any notes?", provider=provider)
    async def write(self) -> dict[str, str]:
        return {"title": "Tides"}

    @listen(write)
    def use(self, result: HumanFeedbackResult) -> str:
        return f"{result.output['title']}: {result.feedback} ({result.outcome})"


async def test_without_emit_listeners_receive_the_result(recorder: Recorder) -> None:
    Notes.provider.answers = ["add a chart"]
    flow = Notes()
    assert await flow.akickoff() == "Tides: add a chart (None)"
    result = flow.method_outputs[0]
    assert isinstance(result, HumanFeedbackResult)
    assert (result.output, result.feedback, result.outcome) == (
        {"title": "Tides"},
        "add a chart",
        None,
    )
    assert result.method_name == "write"
    assert result.metadata == {}
    assert flow.last_human_feedback is result
    # A sync provider may block: it runs in a worker thread, never on the loop.
    assert Notes.provider.threads[-1] != threading.current_thread().name
    assert recorder.types.count("human_feedback_received") == 1


async def test_an_async_provider_runs_on_the_loop(recorder: Recorder) -> None:
    provider = AsyncScripted("lovely", "ship it")
    assert isinstance(provider, HumanFeedbackProvider)
    flow = article_flow(provider, LLM(model="sim", replies=["rejected", "approved"]))()
    assert await flow.akickoff({"topic": "moss"}) == "published ARTICLE v2 on moss after 'ship it'"
    assert provider.threads == [threading.current_thread().name] * 2


async def test_the_console_provider_reads_a_line_off_the_loop() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"fine by me\n")
    out = io.StringIO()
    with os.fdopen(read_fd) as stdin:

        class Console(Flow[dict]):  # type: ignore[type-arg]
            @start()
            @human_feedback(message="Check it", provider=ConsoleProvider(stdin=stdin, stdout=out))
            def write(self) -> str:
                return "the text"

        flow = Console()
        result = await flow.akickoff()
    os.close(write_fd)
    assert isinstance(result, HumanFeedbackResult)
    assert result.feedback == "fine by me"
    assert "the text" in out.getvalue()
    assert "Check it" in out.getvalue()


async def test_a_console_wait_is_cancelled_at_once(recorder: Recorder) -> None:
    asked = anyio.Event()

    async def on_request(source: Any, event: Any) -> None:
        asked.set()

    event_bus.register_handler(HumanFeedbackRequestedEvent, on_request)
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(read_fd) as stdin:

            class Console(Flow[dict]):  # type: ignore[type-arg]
                @start()
                @human_feedback(
                    message="Check", provider=ConsoleProvider(stdin=stdin, stdout=io.StringIO())
                )
                def write(self) -> str:
                    return "text"

            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(Console().akickoff)
                    await asked.wait()  # nothing will ever be typed
                    scope.cancel()
    finally:
        os.close(write_fd)
    assert recorder.types[-2:] == ["method_execution_cancelled", "flow_cancelled"]


def test_bad_decorations_fail_early() -> None:
    with pytest.raises(ValueError, match="needs llm"):
        human_feedback(message="m", emit=["a"], llm=None)
    with pytest.raises(ValueError, match="default_outcome 'c' is not one of emit"):
        human_feedback(message="m", emit=["a", "b"], default_outcome="c")
    with pytest.raises(ValueError, match="needs emit"):
        human_feedback(message="m", default_outcome="a")
    with pytest.raises(ValueError, match="twice"):
        human_feedback(message="m", emit=["a", "a"])
    with pytest.raises(ValueError, match="not a str"):
        human_feedback(message="m", emit="approved")
    with pytest.raises(ValueError, match="needs a message"):
        human_feedback(message=" ")
    with pytest.raises(TypeError, match="request_feedback"):
        human_feedback(message="m", provider=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="never runs"):

        class Orphan(Flow[dict]):  # type: ignore[type-arg]
            @start()
            def go(self) -> None:
                return None

            @human_feedback(message="m")
            def lonely(self) -> None:
                return None


async def test_a_provider_returning_a_non_string_fails_the_method() -> None:
    class Odd:
        def request_feedback(self, context: PendingFeedbackContext, flow: Flow[Any]) -> Any:
            return 42

    class Strange(Flow[dict]):  # type: ignore[type-arg]
        @start()
        @human_feedback(message="m", provider=Odd())
        def go(self) -> str:
            return "x"

    with pytest.raises(TypeError, match="return the feedback as a str"):
        await Strange().akickoff()


# -- pausing ---------------------------------------------------------------------------


async def test_a_pause_returns_the_pending_object_and_saves_everything(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    flow = article_flow(Pausing())(persistence=store)
    result = await flow.akickoff({"topic": "owls"})

    assert isinstance(result, HumanFeedbackPending)
    assert result.callback_info == {"ticket": "T-1"}
    context = result.context
    assert (context.flow_id, context.method_name) == (flow.flow_id, "review")
    assert context.method_output == "ARTICLE v1 on owls"
    assert context.emit == ["approved", "rejected"]
    assert context.llm == "sim"
    assert flow.pending_feedback is not None
    assert flow.pending_feedback.method_name == "review"
    # What kickoff returns crosses process boundaries (pools, task queues).
    copy = pickle.loads(pickle.dumps(result))
    assert (copy.context.flow_id, copy.callback_info, str(copy)) == (
        context.flow_id,
        result.callback_info,
        str(result),
    )

    assert started(recorder) == ["draft", "review"]
    (paused_method,) = recorder.of(MethodExecutionPausedEvent)
    assert paused_method.method_name == "review"
    (paused,) = recorder.of(FlowPausedEvent)
    assert (paused.flow_id, paused.method_name, paused.message) == (
        flow.flow_id,
        "review",
        "Publish this?",
    )
    assert paused.state is not None
    assert paused.state["reviews"] == 1
    assert paused.emit == ["approved", "rejected"]
    assert recorder.types[-1] == "flow_paused"
    assert "flow_finished" not in recorder.types

    saved = await store.load_pending_feedback(flow.flow_id)
    assert saved is not None
    assert saved["state"] == flow.state.model_dump(mode="json")
    assert saved["context"]["method_output"] == "ARTICLE v1 on owls"
    assert [r["method"] for r in saved["progress"]["completed"]] == ["draft"]


async def _akickoff(flow: Flow[Any], inputs: dict[str, Any]) -> Any:
    return await flow.akickoff(inputs)


async def _kickoff(flow: Flow[Any], inputs: dict[str, Any]) -> Any:
    return await anyio.to_thread.run_sync(flow.kickoff, inputs)


async def _kickoff_async(flow: Flow[Any], inputs: dict[str, Any]) -> Any:
    return await flow.kickoff_async(inputs)


ENTRIES: list[Callable[[Flow[Any], dict[str, Any]], Awaitable[Any]]] = [
    _akickoff,
    _kickoff,
    _kickoff_async,
]


async def test_every_entry_returns_the_pause(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    shapes = []
    for entry in ENTRIES:
        flow = article_flow(Pausing())(persistence=store)
        result = await entry(flow, {"topic": "rain"})
        assert isinstance(result, HumanFeedbackPending), entry.__name__
        assert result.context.flow_id == flow.flow_id
        assert await store.load_pending_feedback(flow.flow_id) is not None
        shapes.append(recorder.types)
        recorder.events.clear()
    assert shapes[0] == shapes[1] == shapes[2]


async def test_from_pending_and_resume_continue_without_rerunning(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    publishing = article_flow(Pausing(), LLM(model="sim", replies=["approved"]))
    paused = await publishing(persistence=store).akickoff({"topic": "owls"})
    assert isinstance(paused, HumanFeedbackPending)
    recorder.events.clear()

    flow = await publishing.afrom_pending(paused.context.flow_id, persistence=store)
    assert isinstance(flow, publishing)
    assert flow.flow_id == paused.context.flow_id
    assert (flow.state.topic, flow.state.drafts, flow.state.reviews) == ("owls", 1, 1)
    assert flow.pending_feedback is not None

    result = await flow.resume_async("ship it")
    assert result == "published ARTICLE v1 on owls after 'ship it'"
    # draft and review ran before the pause; only publish runs now.
    assert started(recorder) == ["publish"]
    assert (flow.state.drafts, flow.state.reviews, flow.state.published) == (1, 1, 1)
    assert flow.last_human_feedback is not None
    assert (flow.last_human_feedback.feedback, flow.last_human_feedback.outcome) == (
        "ship it",
        "approved",
    )
    assert recorder.types[-1] == "flow_finished"
    assert await store.load_pending_feedback(flow.flow_id) is None
    still_pending: object = flow.pending_feedback
    assert still_pending is None
    with pytest.raises(ValueError, match="waits for no human feedback"):
        await flow.resume_async("again")


async def test_a_resumed_flow_can_pause_again_and_resume_again(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    provider = Pausing()
    publishing = article_flow(provider, LLM(model="sim", replies=["rejected", "approved"]))
    first = await publishing(persistence=store).akickoff({"topic": "kelp"})
    flow_id = first.context.flow_id

    again = await (await publishing.afrom_pending(flow_id, persistence=store)).resume_async("no")
    assert isinstance(again, HumanFeedbackPending)
    assert again.context.method_output == "ARTICLE v2 on kelp"
    assert again.callback_info == {"ticket": "T-2"}

    recorder.events.clear()
    flow = await publishing.afrom_pending(flow_id, persistence=store)
    assert await flow.resume_async("yes") == "published ARTICLE v2 on kelp after 'yes'"
    assert started(recorder) == ["publish"]
    assert (flow.state.drafts, flow.state.reviews, flow.state.revisions) == (1, 2, 1)
    assert [r.feedback for r in flow.human_feedback_history] == ["no", "yes"]
    assert provider.asked == 2


async def test_the_flow_object_that_paused_can_resume_itself(store: SQLiteFlowPersistence) -> None:
    flow = article_flow(Pausing())(persistence=store)
    await flow.akickoff({"topic": "sun"})
    again = await flow.resume_async("")  # empty: the default outcome, rejected
    assert isinstance(again, HumanFeedbackPending)
    assert (flow.state.revisions, flow.state.reviews) == (1, 2)
    assert await flow.resume_async("ok") == "published ARTICLE v2 on sun after 'ok'"
    assert flow.state.drafts == 1


async def test_resuming_without_pending_feedback_is_a_clear_error(
    store: SQLiteFlowPersistence,
) -> None:
    publishing = article_flow(Pausing())
    with pytest.raises(ValueError, match="no human feedback is pending for flow 'nobody'"):
        await publishing.afrom_pending("nobody", persistence=store)
    with pytest.raises(ValueError, match="waits for no human feedback"):
        await publishing(persistence=store).resume_async("hello")

    await store.save_pending_feedback("broken", {"context": {"flow_id": "broken"}})
    with pytest.raises(PersistenceError, match="'broken'"):
        await publishing.afrom_pending("broken", persistence=store)

    paused = await publishing(persistence=store).akickoff()
    flow = await publishing.afrom_pending(paused.context.flow_id, persistence=store)
    with pytest.raises(TypeError, match="feedback must be a str"):
        await flow.resume_async(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no @human_feedback method 'review'"):
        await Notes.afrom_pending(paused.context.flow_id, persistence=store)


def test_sync_from_pending_and_resume(store: SQLiteFlowPersistence) -> None:
    publishing = article_flow(Pausing(), LLM(model="sim", replies=["approved"]))
    paused = publishing(persistence=store).kickoff({"topic": "hail"})
    assert isinstance(paused, HumanFeedbackPending)
    flow = publishing.from_pending(paused.context.flow_id, persistence=store)
    assert flow.resume("good") == "published ARTICLE v1 on hail after 'good'"
    assert flow.state.drafts == 1
    with pytest.raises(ValueError, match="waits for no human feedback"):
        flow.resume("again")
    with pytest.raises(ValueError, match="no human feedback is pending for flow 'nobody'"):
        publishing.from_pending("nobody", persistence=store)


async def test_resume_and_resume_async_agree(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    publishing = article_flow(Pausing(), LLM(model="sim", replies=["approved"]))
    shapes, results = [], []
    for sync in (False, True):
        paused = await publishing(persistence=store).akickoff({"topic": "fog"})
        flow = await publishing.afrom_pending(paused.context.flow_id, persistence=store)
        recorder.events.clear()
        if sync:
            results.append(await anyio.to_thread.run_sync(flow.resume, "ok"))
        else:
            results.append(await flow.resume_async("ok"))
        shapes.append(recorder.types)
    assert results[0] == results[1] == "published ARTICLE v1 on fog after 'ok'"
    assert shapes[0] == shapes[1]


async def test_without_a_store_a_pause_uses_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANYCREW_STORAGE_DIR", str(tmp_path / "data"))
    publishing = article_flow(Pausing(), LLM(model="sim", replies=["approved"]))
    paused = await publishing().akickoff({"topic": "dew"})
    assert (tmp_path / "data" / "flows.db").exists()
    flow = await publishing.afrom_pending(paused.context.flow_id)
    assert await flow.resume_async("fine") == "published ARTICLE v1 on dew after 'fine'"


async def test_a_paused_stream_ends_with_the_pending_object(store: SQLiteFlowPersistence) -> None:
    flow = article_flow(Pausing())(persistence=store)
    async with flow.astream({"topic": "ice"}) as stream:
        types = [frame.type async for frame in stream]
    assert types[-2:] == ["method_execution_paused", "flow_paused"]
    assert isinstance(stream.result, HumanFeedbackPending)


# -- cancellation ----------------------------------------------------------------------


class Waiting:
    """An async provider that waits until cancelled."""

    def __init__(self) -> None:
        self.asked = anyio.Event()
        self.cancelled = False

    async def request_feedback(self, context: PendingFeedbackContext, flow: Flow[Any]) -> str:
        self.asked.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


async def test_cancelling_a_flow_while_the_provider_waits(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    provider = Waiting()
    calls: list[str] = []

    def respond(messages: Any) -> str:
        calls.append("llm")
        return "approved"

    judge = LLM(model="sim", responder=respond)
    flow = article_flow(provider, judge)(persistence=store)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(flow.akickoff, {"topic": "storm"})
            await provider.asked.wait()
            scope.cancel()
    assert scope.cancelled_caught
    assert provider.cancelled
    assert recorder.types[-2:] == ["method_execution_cancelled", "flow_cancelled"]
    assert calls == []
    assert recorder.of(LLMCallStartedEvent) == []
    assert "publish" not in started(recorder)
    assert "revise" not in started(recorder)
    assert await store.load_pending_feedback(flow.flow_id) is None


async def test_cancelling_a_resume_leaves_the_pending_feedback(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    judging = anyio.Event()

    async def judge(messages: Any) -> str:
        judging.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    publishing = article_flow(Pausing(), LLM(model="sim", responder=judge))
    paused = await publishing(persistence=store).akickoff({"topic": "snow"})
    flow = await publishing.afrom_pending(paused.context.flow_id, persistence=store)
    recorder.events.clear()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(flow.resume_async, "ship it")
            await judging.wait()
            scope.cancel()
    assert recorder.types[-1] == "flow_cancelled"
    assert "publish" not in started(recorder)
    # The feedback was not consumed: the flow still waits, and can be resumed again.
    assert await store.load_pending_feedback(flow.flow_id) is not None


class FullDisk(FlowPersistence):
    """A store that cannot save a pause (a real backend behind the seam, failing)."""

    async def save_state(self, flow_uuid: str, method_name: str, state: Any) -> None:
        return None

    async def load_state(self, flow_uuid: str) -> dict[str, Any] | None:
        return None

    async def save_pending_feedback(self, flow_uuid: str, context: dict[str, Any]) -> None:
        raise PersistenceError(f"could not save the pending feedback of {flow_uuid!r}: disk full")

    async def load_pending_feedback(self, flow_uuid: str) -> dict[str, Any] | None:
        return None

    async def clear_pending_feedback(self, flow_uuid: str) -> None:
        return None

    async def history(self, flow_uuid: str) -> list[tuple[str, dict[str, Any]]]:
        return []


async def test_a_pause_that_cannot_be_saved_fails_the_flow(recorder: Recorder) -> None:
    flow = article_flow(Pausing())(persistence=FullDisk())
    with pytest.raises(PersistenceError, match="disk full"):
        await flow.akickoff({"topic": "ash"})
    assert recorder.types[-1] == "flow_failed"
    assert "flow_paused" not in recorder.types
    assert flow.pending_feedback is None


def test_the_plot_draws_a_review_s_outcomes_from_it_alone(tmp_path: Path) -> None:
    from .test_flow_plot import _parse

    class Plotted(Flow[dict]):  # type: ignore[type-arg]
        @start()
        def begin(self) -> None:
            return None

        @router(begin)
        def triage(self) -> str:
            return "calm"

        @listen("calm")
        @human_feedback(message="ok?", emit=["approved", "rejected"], llm=LLM(model="sim"))
        def review(self) -> str:
            return "text"

        @listen("approved")
        def publish(self) -> None:
            return None

        @listen("rejected")
        def drop(self) -> None:
            return None

        @listen("urgent")
        def escalate(self) -> None:
            return None

    page = _parse(Plotted().plot(tmp_path / "review.html"))
    # Outcomes come from the review only; other labels from the plain router only.
    assert sorted(page.edge_labels) == ["approved", "calm", "rejected", "urgent"]
    assert " ".join(page.node_kinds).count("node router") == 2


async def test_a_persisted_flow_pauses_resumes_and_finishes_its_history(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    publishing = persist(store)(article_flow(Pausing(), LLM(model="sim", replies=["approved"])))
    paused = await publishing().akickoff({"topic": "wind"})
    flow_id = paused.context.flow_id
    assert [name for name, _ in await store.history(flow_id)] == ["draft"]

    # Resuming by id (not from_pending) asks for the review again, and pauses again.
    again = await publishing().akickoff({"id": flow_id})
    assert isinstance(again, HumanFeedbackPending)
    assert started(recorder).count("draft") == 1

    flow = await publishing.afrom_pending(flow_id)  # the class's store by default
    # The resumed run started from the state saved after draft, so review ran on it.
    assert await flow.resume_async("yes") == "published ARTICLE v1 on wind after 'yes'"
    assert (flow.state.drafts, flow.state.reviews) == (1, 1)
    assert [name for name, _ in await store.history(flow_id)] == ["draft", "review", "publish"]
    found = await store.load_snapshot(flow_id)
    assert found is not None
    assert found[1] is not None
    assert found[1]["finished"] is True


class GateOpeningPauser:
    """Pauses the flow, and first lets the sibling branch go on (from its thread)."""

    def request_feedback(self, context: PendingFeedbackContext, flow: Flow[Any]) -> str:
        gate = Branches.gate
        assert gate is not None
        anyio.from_thread.run_sync(gate.set)
        raise HumanFeedbackPending(context=context)


class Branches(Flow[dict]):  # type: ignore[type-arg]
    """A review and a sibling branch started together; the sibling waits for a gate."""

    gate: ClassVar[anyio.Event | None] = None

    @start()
    def go(self) -> None:
        self.state["sibling"] = 0

    @listen(go)
    @human_feedback(message="ok?", provider=GateOpeningPauser())
    def review(self) -> str:
        return "text"

    @listen(go)
    async def sibling(self) -> None:
        gate = type(self).gate
        assert gate is not None
        await gate.wait()
        self.state["sibling"] += 1

    @listen(sibling)
    def after_sibling(self) -> str:
        return "after"

    @listen(review)
    def done(self, result: HumanFeedbackResult) -> str:
        return f"done: {result.feedback}"


async def test_a_pause_lets_running_branches_finish_and_they_do_not_run_again(
    recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    # The sibling is still running when the review pauses: it finishes (its changes
    # are saved with the pause), nothing new starts, and on resume it is not run
    # again; what it triggers runs then.
    Branches.gate = anyio.Event()
    try:
        paused = await Branches(persistence=store).akickoff()
    finally:
        Branches.gate = None
    assert isinstance(paused, HumanFeedbackPending)
    assert recorder.of(MethodExecutionCancelledEvent) == []
    before_pause = started(recorder)
    record = await store.load_pending_feedback(paused.context.flow_id)
    assert record is not None
    assert record["state"]["sibling"] == 1  # the sibling's work is in the saved state
    recorder.events.clear()

    flow = await Branches.afrom_pending(paused.context.flow_id, persistence=store)
    assert await flow.resume_async("fine") == "done: fine"
    # Every method ran once over the two runs: after_sibling either started before
    # the pause was noted (then it finished first) or runs on resume.
    assert sorted(before_pause + started(recorder)) == [
        "after_sibling",
        "done",
        "go",
        "review",
        "sibling",
    ]
    assert "done" not in before_pause
    assert flow.state["sibling"] == 1


class Polling:
    """A blocking sync provider that polls an outside system, cooperating on cancel."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.polls = 0
        self.stopped_by = ""

    def request_feedback(self, context: PendingFeedbackContext, flow: Flow[Any]) -> str:
        self.entered.set()
        try:
            while True:
                anycrew.checkpoint()
                self.polls += 1
                time.sleep(0.005)  # the provider's own wait between polls
        except BaseException as exc:
            self.stopped_by = type(exc).__name__
            raise


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancelling_while_a_sync_provider_blocks(
    entry: str, recorder: Recorder, store: SQLiteFlowPersistence
) -> None:
    provider = Polling()
    flow = article_flow(provider)(persistence=store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(getattr(flow, entry), {"topic": "hail"})
        await anyio.to_thread.run_sync(provider.entered.wait, 10)
        tg.cancel_scope.cancel()
    # The flow returned only once the provider's thread had stopped.
    assert provider.stopped_by == anyio.get_cancelled_exc_class().__name__, provider.stopped_by
    polls = provider.polls
    assert recorder.types[-2:] == ["method_execution_cancelled", "flow_cancelled"]
    assert recorder.of(LLMCallStartedEvent) == []
    assert provider.polls == polls


async def test_a_resume_that_fails_later_can_be_retried(store: SQLiteFlowPersistence) -> None:
    # The feedback reached its method, then a listener failed: the pending record
    # stays until a resumed run finishes, so the feedback is not lost.
    outage = {"on": True}

    class Publishing(Flow[dict]):  # type: ignore[type-arg]
        @start()
        @human_feedback(message="Publish?", provider=Pausing())
        def draft(self) -> str:
            return "draft"

        @listen(draft)
        def publish(self, review: HumanFeedbackResult) -> str:
            if outage["on"]:
                raise RuntimeError("downstream outage")
            return f"published with {review.feedback!r}"

    paused = await Publishing(persistence=store).akickoff()
    assert isinstance(paused, HumanFeedbackPending)
    flow_id = paused.context.flow_id
    first = await Publishing.afrom_pending(flow_id, persistence=store)
    with pytest.raises(RuntimeError, match="downstream outage"):
        await first.resume_async("ship it")
    assert await store.load_pending_feedback(flow_id) is not None

    outage["on"] = False
    retry = await Publishing.afrom_pending(flow_id, persistence=store)
    assert await retry.resume_async("ship it") == "published with 'ship it'"
    assert await store.load_pending_feedback(flow_id) is None
    assert retry.pending_feedback is None
