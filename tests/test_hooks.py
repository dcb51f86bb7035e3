"""Execution hooks: before/after LLM and tool calls, filters, scopes, parity, faults, cancel."""

from __future__ import annotations

import importlib
import pickle
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import anycrew
import anycrew.hooks
from anycrew import LLM, Agent, Crew, CrewOutput, Task
from anycrew.errors import AnyCrewError, LLMCallBlockedError, ToolCallBlockedError
from anycrew.events import (
    AgentExecutionCancelledEvent,
    CrewKickoffCancelledEvent,
    CrewKickoffFailedEvent,
    LLMCallCompletedEvent,
    LLMCallStartedEvent,
    TaskCancelledEvent,
    TaskFailedEvent,
    ToolUsageFinishedEvent,
    ToolUsageStartedEvent,
)
from anycrew.hooks import (
    LLMCallHookContext,
    ToolCallHookContext,
    after_llm_call,
    after_tool_call,
    before_llm_call,
    before_tool_call,
    clear_all_global_hooks,
    get_before_llm_call_hooks,
    get_before_tool_call_hooks,
    register_after_tool_call_hook,
    register_before_llm_call_hook,
    scoped_hooks,
    unregister_before_llm_call_hook,
)
from anycrew.tools import tool

from .conftest import ENTRIES, Entry, Recorder, settle_threads, warm_thread_pools

pytestmark = pytest.mark.anyio

entries = pytest.mark.parametrize("entry", ENTRIES.values(), ids=ENTRIES.keys())


@pytest.fixture(autouse=True)
def _no_global_hooks() -> Iterator[None]:
    """Every test starts and ends without global hooks."""
    clear_all_global_hooks()
    yield
    assert clear_all_global_hooks()["total"] == (0, 0), "a test left global hooks behind"


class Model:
    """A simulator that records the messages of every call it answers."""

    def __init__(self, reply: str = "Final Answer: fine", latency: float = 0.0) -> None:
        self.seen: list[list[dict[str, Any]]] = []
        self._reply = reply
        self.llm = LLM(model="sim", responder=self._respond, latency=latency)

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        self.seen.append([dict(m) for m in messages])
        return self._reply


def crew_of(*roles: str, llm: LLM, tools: list[Any] | None = None) -> Crew:
    agents = [
        Agent(role=role, goal="Help", backstory="Able.", llm=llm, tools=tools or [])
        for role in roles
    ]
    tasks = [
        Task(description=f"Work on {{topic}} as {a.role}", expected_output="A line", agent=a)
        for a in agents
    ]
    return Crew(agents=agents, tasks=tasks)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool("Multiply")
async def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def tool_llm(*steps: Any, native: bool = True) -> LLM:
    return LLM(model="sim", tool_calls=list(steps), native_tools=native)


# -- the public surface ------------------------------------------------------------


def test_public_names_are_documented_at_public_paths() -> None:
    module = anycrew.hooks
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        obj = getattr(module, name)
        assert obj.__doc__, name
        owner = obj.__module__
        assert not any(part.startswith("_") for part in owner.split(".")), (name, owner)
        assert getattr(importlib.import_module(owner), obj.__name__) is obj
    # CrewAI's module paths
    from anycrew.hooks.decorators import before_llm_call as decorator
    from anycrew.hooks.llm_hooks import LLMCallHookContext as llm_context
    from anycrew.hooks.tool_hooks import ToolCallHookContext as tool_context

    assert (decorator, llm_context, tool_context) == (
        before_llm_call,
        LLMCallHookContext,
        ToolCallHookContext,
    )


def test_blocked_errors_are_typed_and_survive_pickling() -> None:
    error = LLMCallBlockedError(hook_name="deny", model="sim", agent_role="Writer")
    assert isinstance(error, AnyCrewError)
    assert isinstance(error, ValueError)
    assert "deny" in str(error)
    assert "'sim'" in str(error)
    assert "Writer" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.model, copy.hook_name) == (
        LLMCallBlockedError,
        str(error),
        "sim",
        "deny",
    )
    tool_error = pickle.loads(
        pickle.dumps(ToolCallBlockedError(hook_name="h", tool_name="add", agent_role=None))
    )
    assert tool_error.tool_name == "add"
    assert "tool 'add'" in str(tool_error)


# -- bad input ---------------------------------------------------------------------


def test_bad_hooks_and_filters_are_refused_at_registration() -> None:
    with scoped_hooks():
        with pytest.raises(TypeError, match=r"before_llm_call hook .*two.* exactly one argument"):

            @before_llm_call
            def two(context: Any, extra: Any) -> None: ...

        with pytest.raises(TypeError, match=r"agents=\['Writer'\]"):
            before_llm_call(agents="Writer")
        with pytest.raises(TypeError, match="list of str"):
            before_tool_call(tools=[3])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="must be a function"):
            register_before_llm_call_hook("not a hook")  # type: ignore[arg-type]
        assert get_before_llm_call_hooks() == []


@pytest.mark.parametrize(
    ("kind", "returned", "message"),
    [
        (before_llm_call, "yes", r"returned 'yes'; return False to block"),
        (after_llm_call, 42, r"returned 42; return a str to replace the response"),
    ],
)
async def test_a_hook_returning_the_wrong_type_fails_the_task_saying_so(
    kind: Any, returned: Any, message: str, recorder: Recorder
) -> None:
    with scoped_hooks():

        @kind
        def confused(context: LLMCallHookContext) -> Any:
            return returned

        with pytest.raises(TypeError, match=message):
            await crew_of("Writer", llm=Model().llm).akickoff({"topic": "x"})
    assert len(recorder.of(TaskFailedEvent)) == 1
    assert len(recorder.of(CrewKickoffFailedEvent)) == 1


# -- LLM call hooks ----------------------------------------------------------------


@entries
async def test_before_llm_call_mutates_the_messages_for_every_entry(
    entry: Entry, recorder: Recorder
) -> None:
    model = Model()
    crew = crew_of("Writer", llm=model.llm)
    contexts: list[LLMCallHookContext] = []
    with scoped_hooks():

        @before_llm_call
        def add_rule(context: LLMCallHookContext) -> None:
            contexts.append(context)
            context.messages.append({"role": "user", "content": "Rule: be brief."})

        output = await entry(crew, {"topic": "tides"})
    assert isinstance(output, CrewOutput)
    assert output.raw == "fine"
    (messages,) = model.seen
    assert messages[-1] == {"role": "user", "content": "Rule: be brief."}
    (started,) = recorder.of(LLMCallStartedEvent)
    assert started.messages[-1]["content"] == "Rule: be brief."  # the event shows it too
    (context,) = contexts
    assert context.agent is crew.agents[0]
    assert context.task is crew.tasks[0]
    assert context.crew is crew
    assert context.llm is model.llm
    assert (context.iterations, context.response) == (0, None)


async def _hooked_run(entry: Entry, recorder: Recorder) -> tuple[Any, ...]:
    recorder.events.clear()
    calls: list[str] = []
    llm = tool_llm([{"name": "add", "arguments": {"a": 2, "b": 3}}], "Final Answer: done")
    with scoped_hooks():

        @before_tool_call
        def triple(context: ToolCallHookContext) -> None:
            calls.append(f"tool {context.tool_name}")
            context.tool_input["a"] *= 3

        @after_llm_call
        async def sign(context: LLMCallHookContext) -> str | None:
            calls.append(f"llm {context.iterations}")
            return f"{context.response} (signed)" if context.response else None

        output = await entry(crew_of("Calculator", llm=llm, tools=[add]), {"topic": "x"})
    tool_outputs = [e.output for e in recorder.of(ToolUsageFinishedEvent)]
    return output.raw, tool_outputs, calls, recorder.types


async def test_every_entry_gives_the_same_hooked_run(recorder: Recorder) -> None:
    seen = {name: await _hooked_run(entry, recorder) for name, entry in ENTRIES.items()}
    reference = seen["akickoff"]
    assert reference[:3] == ("done (signed)", [9], ["llm 0", "tool add", "llm 1"])
    for name, run in seen.items():
        assert run == reference, name


def _judging_llm() -> LLM:
    # Answers the agent, and approves as the judge of a text guardrail.
    def respond(messages: list[dict[str, Any]]) -> str:
        if "review" in str(messages[0]["content"]).lower():
            return '{"valid": true}'
        return "Final Answer: a long enough answer"

    return LLM(model="sim", responder=respond)


async def test_iterations_count_only_the_agents_own_calls_on_its_task() -> None:
    """A guardrail's LLM call is made at the task's level: it counts for neither
    the agent of that task nor the next task's agent or guardrail."""
    agent = Agent(role="Writer", goal="g", backstory="b", llm=_judging_llm())
    tasks = [
        Task(
            description=f"part {i}",
            expected_output="x",
            agent=agent,
            name=f"t{i}",
            guardrail="must be long",
        )
        for i in range(3)
    ]
    seen: list[tuple[str, str, int]] = []
    with scoped_hooks():

        @before_llm_call
        def note(context: LLMCallHookContext) -> None:
            judge = "review" in str(context.messages[0]["content"]).lower()
            assert context.task is not None
            seen.append(("guardrail" if judge else "agent", context.task.name, context.iterations))

        await Crew(agents=[agent], tasks=tasks).akickoff()
    assert seen == [(kind, f"t{i}", 0) for i in range(3) for kind in ("agent", "guardrail")]


async def test_a_crew_inside_a_tool_leaves_the_outer_agents_count_alone() -> None:
    inner_agent = Agent(role="Inner", goal="g", backstory="b", llm=_judging_llm())
    inner = Crew(
        agents=[inner_agent],
        tasks=[
            Task(
                description="inner",
                expected_output="x",
                agent=inner_agent,
                name="inner",
                guardrail="must be long",
            )
        ],
    )

    @tool
    async def run_inner(topic: str) -> str:
        """Run the inner crew."""
        return (await inner.akickoff()).raw

    outer_agent = Agent(
        role="Outer",
        goal="g",
        backstory="b",
        tools=[run_inner],
        llm=tool_llm([{"name": "run_inner", "arguments": {"topic": "x"}}], "Final Answer: done"),
    )
    outer = Crew(
        agents=[outer_agent],
        tasks=[Task(description="outer", expected_output="x", agent=outer_agent, name="outer")],
    )
    seen: list[tuple[str, str, int]] = []
    with scoped_hooks():

        @before_llm_call
        def note(context: LLMCallHookContext) -> None:
            assert context.agent is not None
            assert context.task is not None
            seen.append((context.agent.role, context.task.name, context.iterations))

        await outer.akickoff()
    # The inner guardrail runs at the inner task's level, whose agent objects are
    # still the outer agent's; the outer agent's second call follows one call.
    assert seen == [
        ("Outer", "outer", 0),
        ("Inner", "inner", 0),
        ("Outer", "inner", 1),
        ("Outer", "outer", 1),
    ]


@entries
async def test_before_llm_call_returning_false_blocks_and_fails_the_run(
    entry: Entry, recorder: Recorder
) -> None:
    model = Model()
    with scoped_hooks():

        @before_llm_call
        def deny(context: LLMCallHookContext) -> bool:
            return False

        with pytest.raises(LLMCallBlockedError) as caught:
            await entry(crew_of("Writer", llm=model.llm), {"topic": "x"})
    assert caught.value.hook_name.endswith("deny")
    assert caught.value.agent_role == "Writer"
    assert "blocked the call to 'sim' by agent 'Writer'" in str(caught.value)
    assert model.seen == []
    assert recorder.of(LLMCallStartedEvent) == []
    (failed,) = recorder.of(TaskFailedEvent)
    assert failed.error.startswith("LLMCallBlockedError")
    assert len(recorder.of(CrewKickoffFailedEvent)) == 1
    assert recorder.types[-1] == "crew_kickoff_failed"


async def test_after_llm_call_replaces_the_response_and_none_keeps_it(
    recorder: Recorder,
) -> None:
    model = Model(reply="Final Answer: the SECRET plan")
    seen: list[str | None] = []
    with scoped_hooks():

        @after_llm_call
        def redact(context: LLMCallHookContext) -> str | None:
            assert context.response is not None
            return context.response.replace("SECRET", "[redacted]")

        @after_llm_call
        def observe(context: LLMCallHookContext) -> None:
            seen.append(context.response)  # sees the previous hook's replacement

        output = await crew_of("Writer", llm=model.llm).akickoff({"topic": "x"})
    assert output.raw == "the [redacted] plan"
    assert seen == ["Final Answer: the [redacted] plan"]
    # The completed event records what the model said.
    (completed,) = recorder.of(LLMCallCompletedEvent)
    assert completed.response == "Final Answer: the SECRET plan"


async def test_async_hooks_are_awaited() -> None:
    model = Model(reply="Final Answer: raw")
    order: list[str] = []
    with scoped_hooks():

        @before_llm_call
        async def before(context: LLMCallHookContext) -> None:
            await anyio.sleep(0.01)
            order.append("before")
            context.messages.append({"role": "user", "content": "async rule"})

        @after_llm_call
        async def after(context: LLMCallHookContext) -> str:
            await anyio.sleep(0.01)
            order.append("after")
            return "Final Answer: cooked"

        output = await crew_of("Writer", llm=model.llm).akickoff({"topic": "x"})
    assert order == ["before", "after"]
    assert model.seen[0][-1]["content"] == "async rule"
    assert output.raw == "cooked"


async def test_hooks_run_for_direct_llm_calls_sync_and_async() -> None:
    model = Model(reply="raw reply")
    contexts: list[LLMCallHookContext] = []
    with scoped_hooks():

        @before_llm_call
        def note(context: LLMCallHookContext) -> None:
            contexts.append(context)
            context.messages.insert(0, {"role": "system", "content": "be kind"})

        @after_llm_call
        async def upper(context: LLMCallHookContext) -> str:
            assert context.response is not None
            return context.response.upper()

        @before_llm_call(agents=["Writer"])
        def only_writers(context: LLMCallHookContext) -> bool:
            return False  # would block, but a direct call has no agent

        assert await model.llm.acall("hello") == "RAW REPLY"
        assert await anyio.to_thread.run_sync(model.llm.call, "hello") == "RAW REPLY"
    assert [m[0]["content"] for m in model.seen] == ["be kind", "be kind"]
    assert [(c.agent, c.task, c.crew, c.iterations) for c in contexts] == [(None,) * 3 + (0,)] * 2


def test_hooks_run_for_the_plain_sync_kickoff() -> None:
    model = Model()
    calls: list[str] = []
    with scoped_hooks():

        @before_llm_call
        def note(context: LLMCallHookContext) -> None:
            calls.append(context.agent.role)

        crew_of("Writer", "Editor", llm=model.llm).kickoff({"topic": "x"})
    assert calls == ["Writer", "Editor"]


def test_scoped_hooks_follow_runs_into_helper_threads() -> None:
    """Stream sessions and a kickoff() from a thread running a loop use helper threads."""
    model = Model()
    calls: list[str] = []
    crew = crew_of("Writer", llm=model.llm)
    streamed = Crew(agents=crew.agents, tasks=crew.tasks, stream=True)
    with scoped_hooks():

        @before_llm_call
        def note(context: LLMCallHookContext) -> None:
            calls.append(threading.current_thread().name)

        with crew.stream_events({"topic": "a"}) as session:
            assert [f.type for f in session.lifecycle][-1] == "crew_kickoff_completed"
        output: Any = streamed.kickoff({"topic": "b"})
        assert "".join(chunk.content for chunk in output) == "Final Answer: fine"
        assert output.result.raw == "fine"
        with model.llm.stream_events("hi") as call:
            list(call)

        async def inside_a_loop() -> None:
            with pytest.warns(RuntimeWarning, match="kickoff"):
                crew.kickoff({"topic": "c"})

        anyio.run(inside_a_loop)
    assert len(calls) == 4
    assert len(model.seen) == 4


async def test_agents_filter_matches_the_role_as_written_or_filled_in() -> None:
    model = Model()
    seen: list[tuple[str, str]] = []
    with scoped_hooks():

        @before_llm_call(agents=["Writer"])
        def writer(context: LLMCallHookContext) -> None:
            seen.append(("writer", context.agent.role))

        @before_llm_call(agents=["Editor of tides"])
        def filled(context: LLMCallHookContext) -> None:
            seen.append(("filled", context.agent.role))

        @before_llm_call(agents=["Nobody"])
        def nobody(context: LLMCallHookContext) -> None:
            seen.append(("nobody", context.agent.role))

        await crew_of("Writer", "Editor of {topic}", llm=model.llm).akickoff({"topic": "tides"})
    assert seen == [("writer", "Writer"), ("filled", "Editor of {topic}")]


async def test_iterations_count_the_agents_earlier_calls() -> None:
    llm = tool_llm([{"name": "add", "arguments": {"a": 1, "b": 2}}], "Final Answer: 3")
    iterations: list[int] = []
    with scoped_hooks():

        @before_llm_call
        def note(context: LLMCallHookContext) -> None:
            iterations.append(context.iterations)

        await crew_of("Writer", "Editor", llm=llm, tools=[add]).akickoff({"topic": "x"})
    assert iterations == [0, 1, 0, 1]  # two calls per agent, counted per task


# -- tool call hooks ---------------------------------------------------------------


@pytest.mark.parametrize("native", [True, False], ids=["native", "react"])
async def test_before_tool_call_mutates_the_input(native: bool, recorder: Recorder) -> None:
    llm = tool_llm(
        [{"name": "add", "arguments": {"a": 2, "b": 3}}], "Final Answer: done", native=native
    )
    contexts: list[ToolCallHookContext] = []
    crew = crew_of("Calculator", llm=llm, tools=[add])
    with scoped_hooks():

        @before_tool_call
        def double_b(context: ToolCallHookContext) -> None:
            contexts.append(context)
            context.tool_input["b"] *= 2

        await crew.akickoff({"topic": "x"})
    (finished,) = recorder.of(ToolUsageFinishedEvent)
    assert finished.output == 8  # 2 + 6: the tool ran with the changed input
    (started,) = recorder.of(ToolUsageStartedEvent)
    assert started.tool_args == {"a": 2, "b": 6}
    (context,) = contexts
    assert (context.tool_name, context.tool, context.tool_result) == ("add", add, None)
    assert (context.agent, context.task, context.crew) == (crew.agents[0], crew.tasks[0], crew)


async def test_before_tool_call_returning_false_blocks_and_fails_the_run(
    recorder: Recorder,
) -> None:
    ran: list[int] = []

    @tool
    def launch(code: int) -> str:
        """Launch something."""
        ran.append(code)
        return "launched"

    llm = tool_llm([{"name": "launch", "arguments": {"code": 7}}], "Final Answer: done")
    with scoped_hooks():

        @before_tool_call(tools=["launch"])
        async def veto(context: ToolCallHookContext) -> bool:
            return False

        with pytest.raises(ToolCallBlockedError) as caught:
            await crew_of("Operator", llm=llm, tools=[launch]).akickoff({"topic": "x"})
    assert caught.value.tool_name == "launch"
    assert caught.value.agent_role == "Operator"
    assert ran == []
    assert recorder.of(ToolUsageStartedEvent) == []
    assert len(recorder.of(LLMCallStartedEvent)) == 1  # no call after the blocked tool
    assert len(recorder.of(TaskFailedEvent)) == 1
    assert len(recorder.of(CrewKickoffFailedEvent)) == 1


async def test_a_blocked_call_among_parallel_tool_calls_fails_with_the_one_error() -> None:
    llm = tool_llm(
        [
            {"name": "add", "arguments": {"a": 1, "b": 1}},
            {"name": "Multiply", "arguments": {"a": 2, "b": 2}},
        ],
        "Final Answer: done",
    )
    with scoped_hooks():

        @before_tool_call(tools=["multiply"])
        def veto(context: ToolCallHookContext) -> bool:
            return False

        with pytest.raises(ToolCallBlockedError, match="'Multiply'"):
            await crew_of("Calculator", llm=llm, tools=[add, multiply]).akickoff({"topic": "x"})


async def test_after_tool_call_replaces_what_the_agent_sees(recorder: Recorder) -> None:
    llm = tool_llm(
        [
            {"name": "add", "arguments": {"a": 2, "b": 3}},
            {"name": "Multiply", "arguments": {"a": 4, "b": 5}},
        ],
        "Final Answer: done",
    )
    results: list[str | None] = []
    with scoped_hooks():

        @after_tool_call(tools=["Multiply"])
        def annotate(context: ToolCallHookContext) -> str:
            results.append(context.tool_result)
            return f"{context.tool_result} (checked)"

        @after_tool_call(tools=["add"])
        def keep(context: ToolCallHookContext) -> None:
            results.append(context.tool_result)

        await crew_of("Calculator", llm=llm, tools=[add, multiply]).akickoff({"topic": "x"})
    assert sorted(r for r in results if r is not None) == ["20", "5"]
    second_call = recorder.of(LLMCallStartedEvent)[1]
    observations = [m["content"] for m in second_call.messages if m["role"] == "tool"]
    assert observations == ["5", "20 (checked)"]


async def test_tool_hooks_run_for_cached_results_too(recorder: Recorder) -> None:
    call = {"name": "add", "arguments": {"a": 1, "b": 2}}
    llm = tool_llm([call], [call], "Final Answer: done")
    before: list[dict[str, Any]] = []
    with scoped_hooks():

        @before_tool_call
        def note(context: ToolCallHookContext) -> None:
            before.append(dict(context.tool_input))

        @after_tool_call
        def star(context: ToolCallHookContext) -> str:
            return f"{context.tool_result}*"

        await crew_of("Calculator", llm=llm, tools=[add]).akickoff({"topic": "x"})
    assert before == [{"a": 1, "b": 2}] * 2
    assert [e.from_cache for e in recorder.of(ToolUsageFinishedEvent)] == [False, True]
    last_call = recorder.of(LLMCallStartedEvent)[-1]
    assert [m["content"] for m in last_call.messages if m["role"] == "tool"] == ["3*", "3*"]


async def test_tool_filters_by_name_and_agent() -> None:
    script = tool_llm(
        [
            {"name": "add", "arguments": {"a": 1, "b": 1}},
            {"name": "Multiply", "arguments": {"a": 2, "b": 2}},
        ],
        "Final Answer: done",
    )
    seen: list[tuple[str, str, str]] = []
    with scoped_hooks():

        @before_tool_call(tools=["MULTIPLY"], agents=["Checker"])
        def multiply_by_checker(context: ToolCallHookContext) -> None:
            seen.append(("both", context.tool_name, context.agent.role))

        @before_tool_call(tools=["add"])
        def any_add(context: ToolCallHookContext) -> None:
            seen.append(("add", context.tool_name, context.agent.role))

        crew = crew_of("Calculator", "Checker", llm=script, tools=[add, multiply])
        await crew.akickoff({"topic": "x"})
    assert sorted(seen) == [
        ("add", "add", "Calculator"),
        ("add", "add", "Checker"),
        ("both", "Multiply", "Checker"),
    ]


# -- scopes and global hooks -------------------------------------------------------


async def test_scoped_hooks_are_gone_after_the_block() -> None:
    model = Model()
    crew = crew_of("Writer", llm=model.llm)
    calls: list[int] = []
    with scoped_hooks():

        @before_llm_call
        def note(context: LLMCallHookContext) -> None:
            calls.append(1)

        assert get_before_llm_call_hooks() == [note]
        await crew.akickoff({"topic": "in"})
    assert get_before_llm_call_hooks() == []
    await crew.akickoff({"topic": "after"})
    await crew.kickoff_async({"topic": "after"})
    assert calls == [1]
    assert len(model.seen) == 3


async def test_scoped_hooks_do_not_reach_a_concurrent_run_outside_the_scope() -> None:
    inside, outside = Model(), Model()
    hooked: list[str] = []
    hook_entered = anyio.Event()
    outside_called = anyio.Event()

    async def outside_responder(messages: list[dict[str, Any]]) -> str:
        outside.seen.append([dict(m) for m in messages])
        outside_called.set()
        await hook_entered.wait()  # the scoped run is mid-hook while this call runs
        return "Final Answer: outside"

    outside.llm = LLM(model="sim", responder=outside_responder)

    async def run_inside() -> None:
        with scoped_hooks():

            @before_llm_call
            async def mark(context: LLMCallHookContext) -> None:
                hooked.append(context.agent.role)
                context.messages.append({"role": "user", "content": "scoped"})
                hook_entered.set()
                await outside_called.wait()

            await crew_of("Inside", llm=inside.llm).akickoff({"topic": "a"})

    with anyio.fail_after(10):  # each run waits for the other: a leak would hang here
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_inside)
            tg.start_soon(crew_of("Outside", llm=outside.llm).akickoff, {"topic": "b"})
    assert hooked == ["Inside"]
    assert inside.seen[0][-1]["content"] == "scoped"
    assert all(m["content"] != "scoped" for m in outside.seen[0])


async def test_scopes_nest_and_add_to_the_global_hooks() -> None:
    model = Model()
    order: list[str] = []

    def global_hook(context: LLMCallHookContext) -> None:
        order.append("global")

    register_before_llm_call_hook(global_hook)
    try:
        with scoped_hooks():
            register_before_llm_call_hook(lambda context: order.append("outer"))
            with scoped_hooks():
                register_before_llm_call_hook(lambda context: order.append("inner"))
                await model.llm.acall("one")
            with scoped_hooks():
                register_before_llm_call_hook(lambda context: order.append("cleared"))
                # inside a scope, clearing removes that scope's hooks only
                assert clear_all_global_hooks()["total"] == (1, 0)
                await model.llm.acall("two")
            await model.llm.acall("three")
        await model.llm.acall("four")
    finally:
        assert unregister_before_llm_call_hook(global_hook) is True
    assert unregister_before_llm_call_hook(global_hook) is False
    await model.llm.acall("five")
    assert order == ["global", "outer", "inner"] + ["global", "outer"] * 2 + ["global"]


async def test_global_hooks_reach_the_worker_thread_of_kickoff_async() -> None:
    llm = tool_llm([{"name": "add", "arguments": {"a": 1, "b": 2}}], "Final Answer: done")
    threads: list[str] = []

    def suffix(context: ToolCallHookContext) -> str:
        threads.append(threading.current_thread().name)
        return f"{context.tool_result}!"

    register_after_tool_call_hook(suffix)
    try:
        assert get_before_tool_call_hooks() == []
        await crew_of("Calculator", llm=llm, tools=[add]).kickoff_async({"topic": "x"})
    finally:
        counts = clear_all_global_hooks()
    assert counts == {"llm_hooks": (0, 0), "tool_hooks": (0, 1), "total": (0, 1)}
    assert len(threads) == 1
    assert threads[0] != threading.current_thread().name


# -- faults and cancellation -------------------------------------------------------


@entries
async def test_a_raising_hook_fails_the_task_and_the_crew(entry: Entry, recorder: Recorder) -> None:
    model = Model()
    with scoped_hooks():

        @before_llm_call(agents=["Editor"])
        def broken(context: LLMCallHookContext) -> None:
            raise RuntimeError("the hook broke")

        with pytest.raises(RuntimeError, match="the hook broke"):
            await entry(crew_of("Writer", "Editor", llm=model.llm), {"topic": "x"})
    assert len(model.seen) == 1  # the Writer's call; none for the Editor
    (failed,) = recorder.of(TaskFailedEvent)
    assert failed.error == "RuntimeError: the hook broke"
    (crew_failed,) = recorder.of(CrewKickoffFailedEvent)
    assert crew_failed.error == "RuntimeError: the hook broke"
    assert recorder.types[-1] == "crew_kickoff_failed"


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancelling_while_an_async_before_hook_awaits(entry: str, recorder: Recorder) -> None:
    model = Model()
    await warm_thread_pools()
    threads_before = threading.active_count()
    entered = threading.Event()  # kickoff_async runs the hook on the worker's loop
    left: list[str] = []
    with scoped_hooks():

        @before_llm_call
        async def approval(context: LLMCallHookContext) -> None:
            entered.set()
            try:
                await anyio.sleep_forever()
            finally:
                left.append("cancelled")

        async with anyio.create_task_group() as tg:
            tg.start_soon(getattr(crew_of("Writer", llm=model.llm), entry), {"topic": "x"})
            assert await anyio.to_thread.run_sync(entered.wait, 10)
            tg.cancel_scope.cancel()
    assert left == ["cancelled"]
    assert model.seen == []
    assert recorder.of(LLMCallStartedEvent) == []
    assert [type(e) for e in recorder.events[-3:]] == [
        AgentExecutionCancelledEvent,
        TaskCancelledEvent,
        CrewKickoffCancelledEvent,
    ]
    assert settle_threads(threads_before) <= threads_before


async def test_cancelling_while_a_sync_hook_runs_in_its_thread(recorder: Recorder) -> None:
    entered = threading.Event()
    steps: list[int] = []
    with scoped_hooks():

        @before_tool_call
        def slow_check(context: ToolCallHookContext) -> None:
            entered.set()
            for step in range(500):
                anycrew.checkpoint()  # raises once the run is cancelled
                steps.append(step)
                time.sleep(0.01)  # a slice of the check's work

        llm = tool_llm([{"name": "add", "arguments": {"a": 1, "b": 2}}], "Final Answer: done")
        async with anyio.create_task_group() as tg:
            tg.start_soon(crew_of("Calculator", llm=llm, tools=[add]).akickoff, {"topic": "x"})
            assert await anyio.to_thread.run_sync(entered.wait, 10)
            tg.cancel_scope.cancel()
    stopped_at = len(steps)
    assert 0 < stopped_at < 500
    assert recorder.of(ToolUsageStartedEvent) == []
    assert len(recorder.of(LLMCallStartedEvent)) == 1  # only the call that asked for the tool
    assert recorder.types[-1] == "crew_kickoff_cancelled"
    time.sleep(0.05)
    assert len(steps) == stopped_at  # the hook's thread is not still running
