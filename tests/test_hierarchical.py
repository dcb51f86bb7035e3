"""The hierarchical process and delegation: managers, coworkers, nesting, limits, cancellation."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import anyio
import pytest

from anycrew import LLM, Agent, Crew, CrewOutput, Process, Task
from anycrew.errors import ConfigurationError, DelegationError, InvalidInputError
from anycrew.events import (
    AgentExecutionCancelledEvent,
    AgentExecutionStartedEvent,
    BaseEvent,
    CrewKickoffCancelledEvent,
    LLMCallStartedEvent,
    ToolExecutionErrorEvent,
    ToolUsageFinishedEvent,
    ToolUsageStartedEvent,
    event_bus,
)
from anycrew.tools import tool
from anycrew.tools.agent_tools import MAX_DELEGATION_DEPTH, AgentTools

from .conftest import Recorder, warm_thread_pools
from .test_cancellation import _pending_tasks, _threads_settle
from .test_parity import ENTRIES, _run_all

pytestmark = pytest.mark.anyio

DELEGATE = "Delegate work to coworker"
ASK = "Ask question to coworker"


def delegate(coworker: str, task: str, context: str = "") -> dict[str, Any]:
    return {"name": DELEGATE, "arguments": {"task": task, "context": context, "coworker": coworker}}


def ask(coworker: str, question: str, context: str = "") -> dict[str, Any]:
    return {
        "name": ASK,
        "arguments": {"question": question, "context": context, "coworker": coworker},
    }


class Worker:
    """An agent on the simulator that records each request and answers with its role."""

    def __init__(self, role: str, *, latency: float = 0.0, **agent: Any) -> None:
        self.role = role
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.agent = Agent(
            role=role,
            goal="Help the crew",
            backstory="Reliable.",
            llm=LLM(model="sim", responder=self._respond, latency=latency),
            **agent,
        )

    def _respond(self, messages: list[dict[str, Any]]) -> str:
        request = str(messages[-1]["content"]).removeprefix("Current Task: ")
        with self._lock:
            self.requests.append(request)
        return f"Final Answer: {self.role} on {request.splitlines()[0]}"


def manager_llm(*steps: Any, native: bool = True) -> LLM:
    return LLM(model="sim", tool_calls=list(steps), native_tools=native)


def hierarchical_crew(
    *workers: Worker, script: list[Any], native: bool = True, **task: Any
) -> Crew:
    return Crew(
        agents=[worker.agent for worker in workers],
        tasks=[Task(description="Plan an article on {topic}", expected_output="A plan", **task)],
        process=Process.hierarchical,
        manager_llm=manager_llm(*script, native=native),
    )


def one(recorder: Recorder, cls: type[BaseEvent], role: str) -> Any:
    (found,) = [e for e in recorder.of(cls) if e.agent_role == role]
    return found


async def test_a_manager_delegates_to_two_agents_and_gives_the_final_answer(
    recorder: Recorder,
) -> None:
    researcher, writer = Worker("Researcher"), Worker("Writer")
    crew = hierarchical_crew(
        researcher,
        writer,
        script=[
            [delegate("researcher", "List three facts about tides", "For a short article")],
            [ask("WRITER", "How long should it be?")],
            "Thought: I have both.\nFinal Answer: the plan, with facts and a length",
        ],
    )
    result = await crew.akickoff({"topic": "tides"})

    assert result.raw == "the plan, with facts and a length"
    assert result.tasks_output[0].agent == "Crew Manager"
    assert researcher.requests == [
        "List three facts about tides\n\nContext shared with you:\nFor a short article\n\n"
        "Expected output: Your best complete answer to what your coworker asked, making use "
        "of the context they shared.\n\nBegin. Give your complete final answer."
    ]
    assert [r.splitlines()[0] for r in writer.requests] == ["How long should it be?"]
    # The manager's three calls and one call per coworker share the crew's usage.
    assert result.token_usage.successful_requests == 5

    manager = one(recorder, AgentExecutionStartedEvent, "Crew Manager")
    assert manager.tools == [DELEGATE, ASK]
    uses = recorder.of(ToolUsageStartedEvent)
    assert [u.tool_name for u in uses] == [DELEGATE, ASK]
    for use, worker in zip(uses, (researcher, writer), strict=True):
        # manager > tool call > coworker > its LLM call
        assert use.parent_event_id == manager.event_id
        started = one(recorder, AgentExecutionStartedEvent, worker.role)
        assert started.parent_event_id == use.event_id
        call = one(recorder, LLMCallStartedEvent, worker.role)
        assert call.parent_event_id == started.event_id
        assert started.task_id == manager.task_id  # still the crew's task
    finished = {e.tool_name: e.output for e in recorder.of(ToolUsageFinishedEvent)}
    assert finished == {
        DELEGATE: "Researcher on List three facts about tides",
        ASK: "Writer on How long should it be?",
    }
    # The coworker's answer goes back to the manager as the tool's result.
    second = [e for e in recorder.of(LLMCallStartedEvent) if e.agent_role == "Crew Manager"][1]
    assert second.messages[-1] == {
        "role": "tool",
        "tool_call_id": "call_0_0",
        "content": "Researcher on List three facts about tides",
    }


async def test_parallel_delegations_of_one_turn_run_concurrently(recorder: Recorder) -> None:
    here = {"A": anyio.Event(), "B": anyio.Event()}

    def meeting(me: str, other: str) -> Any:
        async def respond(messages: list[dict[str, Any]]) -> str:
            here[me].set()
            await here[other].wait()  # deadlocks unless both coworkers work at once
            return f"Final Answer: {me} done"

        return respond

    agents = [
        Agent(role=me, goal="g", backstory="b", llm=LLM(model="sim", responder=meeting(me, other)))
        for me, other in (("A", "B"), ("B", "A"))
    ]
    crew = Crew(
        agents=agents,
        tasks=[Task(description="Split it", expected_output="Both parts")],
        process=Process.hierarchical,
        manager_llm=manager_llm([delegate("A", "part one"), delegate("B", "part two")], "Done."),
    )
    with anyio.fail_after(10):
        assert (await crew.akickoff()).raw == "Done."
    assert sorted(e.output for e in recorder.of(ToolUsageFinishedEvent)) == ["A done", "B done"]
    # Each coworker nests under its own tool call, whichever finished first.
    uses = {e.tool_args["coworker"]: e for e in recorder.of(ToolUsageStartedEvent)}
    for role in ("A", "B"):
        started = one(recorder, AgentExecutionStartedEvent, role)
        assert started.parent_event_id == uses[role].event_id


async def test_a_task_with_an_agent_can_only_go_to_that_agent(recorder: Recorder) -> None:
    researcher, writer = Worker("Researcher"), Worker("Writer")
    crew = hierarchical_crew(
        researcher,
        writer,
        script=[[delegate("Writer", "write it")], [delegate("Researcher", "research it")], "ok"],
        agent=researcher.agent,
        native=False,  # the ReAct protocol: the tools are described in the prompt
    )
    assert (await crew.akickoff({"topic": "moss"})).raw == "ok"
    assert writer.requests == []
    assert [r.splitlines()[0] for r in researcher.requests] == ["research it"]
    (error,) = recorder.of(ToolExecutionErrorEvent)
    assert "there is no coworker named 'Writer'; the coworkers are: 'Researcher'" in error.error
    prompt = recorder.of(LLMCallStartedEvent)[0].messages[0]["content"]
    assert "Delegate work to coworker(task: str, context: str, coworker: str)" in prompt
    assert "one of these coworkers: Researcher. " in prompt
    assert "Writer" not in prompt


async def test_an_unknown_coworker_is_an_observation_the_model_can_fix(
    recorder: Recorder,
) -> None:
    researcher, writer = Worker("Researcher"), Worker("Writer")
    crew = hierarchical_crew(
        researcher,
        writer,
        script=[
            [delegate("Chef", "cook")],
            [delegate(' "researcher"  ', "look it up")],
            "Final Answer: fixed",
        ],
    )
    assert (await crew.akickoff({"topic": "x"})).raw == "fixed"
    (error,) = recorder.of(ToolExecutionErrorEvent)
    assert error.tool_name == DELEGATE
    expected = (
        "there is no coworker named 'Chef'; the coworkers are: 'Researcher', 'Writer'. "
        "Call 'Delegate work to coworker' again with one of these roles as the coworker"
    )
    assert error.error == f"DelegationError: {expected}"
    second = recorder.of(LLMCallStartedEvent)[1]
    assert second.agent_role == "Crew Manager"
    assert expected in second.messages[-1]["content"]
    assert [r.splitlines()[0] for r in researcher.requests] == ["look it up"]


async def test_sequential_agents_with_allow_delegation_delegate_and_ask(
    recorder: Recorder,
) -> None:
    @tool
    def word_count(text: str) -> int:
        """Count the words of a text."""
        return len(text.split())

    analyst, editor = Worker("Analyst"), Worker("Editor", allow_delegation=True)
    lead = Agent(
        role="Lead",
        goal="Deliver",
        backstory="Organised.",
        allow_delegation=True,
        tools=[word_count],
        llm=LLM(
            model="sim",
            native_tools=False,  # the ReAct protocol: the tools are described in the prompt
            tool_calls=[
                [delegate("Analyst", "Analyse the sales of {topic}")],
                [ask("editor", "Which tone fits?", "A report on sales")],
                "Final Answer: report with analysis and tone",
            ],
        ),
    )
    crew = Crew(
        agents=[lead, analyst.agent, editor.agent],
        tasks=[
            Task(description="Report on {topic}", expected_output="A report", agent=lead),
            Task(description="Check the report", expected_output="ok", agent=analyst.agent),
        ],
    )
    result = await crew.akickoff({"topic": "shoes"})

    assert result.tasks_output[0].raw == "report with analysis and tone"
    assert result.tasks_output[0].agent == "Lead"
    # The model's arguments are taken as written: no {placeholders} filled in.
    assert analyst.requests[0].startswith("Analyse the sales of {topic}\n")
    assert [r.splitlines()[0] for r in editor.requests] == ["Which tone fits?"]
    assert one(recorder, AgentExecutionStartedEvent, "Lead").tools == ["word_count", DELEGATE, ASK]
    # The analyst's own task: no delegation tools, it does not allow delegation.
    analyst_runs = [e for e in recorder.of(AgentExecutionStartedEvent) if e.agent_role == "Analyst"]
    assert [e.tools for e in analyst_runs] == [[], []]
    # A delegate works with its own tools only, even if it may delegate on its own
    # tasks: delegation is one level deep.
    assert one(recorder, AgentExecutionStartedEvent, "Editor").tools == []
    prompt = recorder.of(LLMCallStartedEvent)[0].messages[0]["content"]
    assert "to one of these coworkers: Analyst, Editor. " in prompt
    assert "Ask one of these coworkers a specific question: Analyst, Editor. " in prompt
    assert "Ask question to coworker(question: str, context: str, coworker: str)" in prompt


async def test_allow_delegation_alone_in_a_crew_adds_no_tools(recorder: Recorder) -> None:
    solo = Agent(role="Solo", goal="g", backstory="b", allow_delegation=True, llm="sim")
    crew = Crew(agents=[solo], tasks=[Task(description="Do it", expected_output="x", agent=solo)])
    assert (await crew.akickoff()).raw == "Simulated answer to: Do it"
    assert recorder.of(AgentExecutionStartedEvent)[0].tools == []


async def test_a_delegated_request_is_new_work_each_time(recorder: Recorder) -> None:
    researcher = Worker("Researcher")
    crew = hierarchical_crew(
        researcher,
        script=[[delegate("Researcher", "again")], [delegate("Researcher", "again")], "done"],
    )
    await crew.akickoff({"topic": "x"})
    assert len(researcher.requests) == 2  # not served from the crew's tool cache
    assert [e.from_cache for e in recorder.of(ToolUsageFinishedEvent)] == [False, False]


async def test_roles_are_matched_once_inputs_fill_them_in(recorder: Recorder) -> None:
    expert = Agent(role="Expert on {topic}", goal="g", backstory="b", llm="sim")
    crew = Crew(
        agents=[expert],
        tasks=[Task(description="Explain {topic}", expected_output="x")],
        process=Process.hierarchical,
        manager_llm=manager_llm([ask("expert on tides", "Why tides?")], "Final Answer: because"),
    )
    assert (await crew.akickoff({"topic": "tides"})).raw == "because"
    assert one(recorder, AgentExecutionStartedEvent, "Expert on tides")

    recorder.events.clear()
    with pytest.raises(InvalidInputError, match="missing input 'topic' for agent"):
        await crew.akickoff({"other": "x"})
    assert recorder.events == []  # nothing ran


def test_construction_rules() -> None:
    worker = Agent(role="Worker", goal="g", backstory="b", llm="sim")
    boss = Agent(role="Boss", goal="g", backstory="b", llm="sim")
    task = Task(description="Do it", expected_output="x")

    def build(**kwargs: Any) -> Crew:
        options: dict[str, Any] = {
            "agents": [worker],
            "tasks": [task],
            "process": Process.hierarchical,
        }
        return Crew(**(options | kwargs))

    with pytest.raises(ConfigurationError, match="needs a manager: pass manager_llm="):
        build()
    with pytest.raises(ConfigurationError, match="either manager_llm or manager_agent"):
        build(manager_llm="sim", manager_agent=boss)
    with pytest.raises(ConfigurationError, match="'Boss' is also in the crew's agents"):
        build(agents=[worker, boss], manager_agent=boss)
    tooled = Agent(role="Boss", goal="g", backstory="b", tools=[AgentTools([worker]).tools()[0]])
    with pytest.raises(ConfigurationError, match="'Boss' has tools"):
        build(manager_agent=tooled)
    with pytest.raises(ConfigurationError, match="names the manager as its agent"):
        build(manager_agent=boss, tasks=[Task(description="d", expected_output="e", agent=boss)])
    with pytest.raises(ConfigurationError, match="no agents for the manager to delegate to"):
        build(agents=[], manager_llm="sim")
    twin = Agent(role=" worker", goal="g", backstory="b")
    with pytest.raises(ConfigurationError, match="'Worker' and ' worker' have the same role"):
        build(agents=[worker, twin], manager_llm="sim")
    with pytest.raises(ConfigurationError, match="unknown model provider 'nope'"):
        build(manager_llm="nope/model")

    # Sequential crews: roles must differ only where someone delegates.
    keen = Agent(role="worker", goal="g", backstory="b", allow_delegation=True)
    own = Task(description="d", expected_output="e", agent=keen)
    with pytest.raises(ConfigurationError, match="have the same role"):
        Crew(agents=[worker, keen], tasks=[own])
    Crew(agents=[worker, twin], tasks=[Task(description="d", expected_output="e", agent=twin)])

    crew = build(manager_llm="sim")
    assert crew.manager_agent is None
    assert isinstance(crew.manager_llm, LLM)
    assert build(manager_agent=boss).manager_agent is boss
    # A hierarchical task may name an agent; the manager still works on it.
    build(manager_llm="sim", tasks=[Task(description="d", expected_output="e", agent=worker)])


async def test_entries_give_the_same_hierarchical_run(recorder: Recorder) -> None:
    def build() -> Crew:
        return hierarchical_crew(
            Worker("Researcher"),
            Worker("Writer"),
            script=[
                [delegate("Researcher", "facts")],
                [ask("Writer", "length?")],
                "Final Answer: plan",
            ],
        )

    seen = await _run_all(build, {"topic": "parity"}, recorder)
    assert set(seen) == set(ENTRIES)
    reference, reference_events = seen["akickoff"]
    assert isinstance(reference, CrewOutput)
    assert reference.raw == "plan"
    assert [t for t, _, _ in reference_events].count("agent_execution_started") == 3
    for name, (output, events) in seen.items():
        assert isinstance(output, CrewOutput), name
        assert [t.raw for t in output.tasks_output] == [t.raw for t in reference.tasks_output]
        assert output.token_usage == reference.token_usage, name
        assert events == reference_events, name

    def failing() -> Crew:
        return Crew(
            agents=[Worker("Researcher").agent],
            tasks=[Task(description="d", expected_output="e")],
            process=Process.hierarchical,
            manager_llm=LLM(model="sim", responder=broken),
        )

    def broken(messages: list[dict[str, Any]]) -> str:
        raise ValueError("the manager is unwell")

    seen = await _run_all(failing, {}, recorder)
    for name, (error, events) in seen.items():
        assert type(error) is ValueError, name
        assert events == seen["akickoff"][1], name
    assert seen["akickoff"][1][-1][0] == "crew_kickoff_failed"


def test_sync_kickoff_of_a_hierarchical_crew() -> None:
    researcher = Worker("Researcher")
    crew = hierarchical_crew(
        researcher, script=[[delegate("Researcher", "facts")], "Final Answer: plan"]
    )
    result = crew.kickoff({"topic": "sync"})
    assert result.raw == "plan"
    assert len(researcher.requests) == 1


@pytest.mark.parametrize("entry", ["akickoff", "kickoff_async"])
async def test_cancelling_mid_delegation_stops_the_delegate(entry: str, recorder: Recorder) -> None:
    researcher = Worker("Researcher", latency=30.0)
    crew = hierarchical_crew(
        researcher,
        script=[[delegate("Researcher", "slow research")], "Final Answer: never"],
    )
    await warm_thread_pools()
    threads_before = threading.active_count()
    tasks_before = await _pending_tasks()
    # A thread-safe signal: for kickoff_async, handlers run on the worker's loop.
    delegate_calling = threading.Event()
    event_bus.register_handler(
        LLMCallStartedEvent,
        lambda source, event: event.agent_role == "Researcher" and delegate_calling.set(),
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(getattr(crew, entry), {"topic": "t"})
        assert await anyio.to_thread.run_sync(delegate_calling.wait, 10)
        calls_at_cancel = len(recorder.of(LLMCallStartedEvent))
        tg.cancel_scope.cancel()

    # The delegate's call was in flight; nothing started after the cancel.
    assert calls_at_cancel == 2
    assert [e.agent_role for e in recorder.of(LLMCallStartedEvent)] == [
        "Crew Manager",
        "Researcher",
    ]
    assert len(researcher.requests) == 1
    assert [(e.type, e.agent_role) for e in recorder.events[-4:]] == [
        ("agent_execution_cancelled", "Researcher"),
        ("agent_execution_cancelled", "Crew Manager"),
        ("task_cancelled", None),
        ("crew_kickoff_cancelled", None),
    ]
    # The delegate's cancellation closes the span it opened, under the tool call.
    cancelled = one(recorder, AgentExecutionCancelledEvent, "Researcher")
    started = one(recorder, AgentExecutionStartedEvent, "Researcher")
    assert cancelled.started_event_id == started.event_id
    assert cancelled.parent_event_id == recorder.of(ToolUsageStartedEvent)[0].event_id
    assert len(recorder.of(CrewKickoffCancelledEvent)) == 1
    assert await _threads_settle(threads_before) <= threads_before
    assert await _pending_tasks() <= tasks_before


async def test_a_deadline_during_delegation_cancels_the_delegate(recorder: Recorder) -> None:
    researcher = Worker("Researcher", latency=30.0)
    crew = hierarchical_crew(researcher, script=[[delegate("Researcher", "slow")], "never"])
    with anyio.move_on_after(0.2) as scope:
        await crew.akickoff({"topic": "t"})
    assert scope.cancelled_caught
    assert len(recorder.of(LLMCallStartedEvent)) == 2
    assert recorder.types[-4:] == [
        "agent_execution_cancelled",
        "agent_execution_cancelled",
        "task_cancelled",
        "crew_kickoff_cancelled",
    ]


def _wired(roles: list[str], scripts: dict[str, list[Any]]) -> list[Agent]:
    agents = [
        Agent(role=role, goal="g", backstory="b", llm=LLM(model="sim", tool_calls=scripts[role]))
        for role in roles
    ]
    return agents


async def test_a_request_is_never_handed_back_up_the_chain(recorder: Recorder) -> None:
    a, b = _wired(
        ["A", "B"],
        {
            "A": [[delegate("B", "help")], "Final Answer: A finished"],
            "B": [[delegate("A", "you do it")], "Final Answer: B did it alone"],
        },
    )
    # Delegation tools given by hand, in both directions.
    a.tools = AgentTools([b]).tools()
    b.tools = AgentTools([a]).tools()
    crew = Crew(agents=[a, b], tasks=[Task(description="Go", expected_output="x", agent=a)])
    assert (await crew.akickoff()).raw == "A finished"
    assert [e.agent_role for e in recorder.of(AgentExecutionStartedEvent)] == ["A", "B"]
    (error,) = recorder.of(ToolExecutionErrorEvent)
    assert error.agent_role == "B"
    assert "'A' is already working on this request" in error.error
    assert recorder.of(ToolUsageFinishedEvent)[-1].output == "B did it alone"


async def test_delegation_chains_are_bounded(recorder: Recorder) -> None:
    roles = [f"R{i}" for i in range(MAX_DELEGATION_DEPTH + 2)]
    scripts = {
        role: [[delegate(roles[i + 1], "pass it on")], f"Final Answer: {role} answered"]
        for i, role in enumerate(roles[:-1])
    }
    scripts[roles[-1]] = ["Final Answer: the last one"]
    agents = _wired(roles, scripts)
    for agent, following in itertools.pairwise(agents):
        agent.tools = AgentTools([following]).tools()
    crew = Crew(agents=agents, tasks=[Task(description="Go", expected_output="x", agent=agents[0])])
    assert (await crew.akickoff()).raw == "R0 answered"
    worked = [e.agent_role for e in recorder.of(AgentExecutionStartedEvent)]
    assert worked == roles[: MAX_DELEGATION_DEPTH + 1]  # the last one is never reached
    (error,) = recorder.of(ToolExecutionErrorEvent)
    assert error.agent_role == roles[MAX_DELEGATION_DEPTH]
    assert f"already been delegated {MAX_DELEGATION_DEPTH} times" in error.error


def test_delegation_tools_outside_a_crew(recorder: Recorder) -> None:
    researcher = Worker("Researcher")
    assert [t.name for t in researcher.agent.get_delegation_tools([researcher.agent])] == [
        DELEGATE,
        ASK,
    ]
    work, question = AgentTools([researcher.agent]).tools()
    assert work.function_schema()["function"]["parameters"]["required"] == [
        "task",
        "context",
        "coworker",
    ]
    assert question.function_schema()["function"]["parameters"]["required"] == [
        "question",
        "context",
        "coworker",
    ]
    # The parameters are built once per class; every caller gets its own copy.
    from anycrew.tools import BaseTool

    assert work.function_schema() == BaseTool.function_schema(work)
    work.function_schema()["function"]["parameters"]["required"].clear()
    assert work.function_schema()["function"]["parameters"]["required"] == [
        "task",
        "context",
        "coworker",
    ]
    # Run directly, the coworker works in a run of its own.
    assert work.run(task="Sum up", context="", coworker="researcher") == "Researcher on Sum up"
    assert recorder.types[0] == "agent_execution_started"
    with pytest.raises(DelegationError, match="no coworker named 'Nobody'"):
        question.run(question="?", context="", coworker="Nobody")


async def test_streamed_chunks_name_the_delegate(recorder: Recorder) -> None:
    researcher = Agent(role="Researcher", goal="g", backstory="b", llm=LLM(model="sim"))
    crew = Crew(
        agents=[researcher],
        tasks=[Task(description="Plan", expected_output="x", name="plan")],
        process=Process.hierarchical,
        manager_llm=manager_llm([delegate("Researcher", "dig")], "Final Answer: planned"),
        stream=True,
    )
    output = await crew.akickoff()
    chunks = [chunk async for chunk in output]
    assert output.result.raw == "planned"
    roles = {chunk.agent_role for chunk in chunks}
    assert roles == {"Crew Manager", "Researcher"}
    assert {chunk.task_name for chunk in chunks} == {"plan"}


async def test_a_failing_delegate_is_an_observation_for_the_manager(recorder: Recorder) -> None:
    def unwell(messages: list[dict[str, Any]]) -> str:
        raise ValueError("the coworker is unwell")

    sick = Agent(role="Sick", goal="g", backstory="b", llm=LLM(model="sim", responder=unwell))
    crew = Crew(
        agents=[sick],
        tasks=[Task(description="Try", expected_output="x")],
        process=Process.hierarchical,
        manager_llm=manager_llm([delegate("Sick", "work")], "Final Answer: did it myself"),
    )
    assert (await crew.akickoff()).raw == "did it myself"
    assert "agent_execution_error" in recorder.types
    (error,) = recorder.of(ToolExecutionErrorEvent)
    assert error.error == "ValueError: the coworker is unwell"
    observation = recorder.of(LLMCallStartedEvent)[-1].messages[-1]["content"]
    assert observation == "Error: the tool failed: ValueError: the coworker is unwell"


def test_the_delegation_tools_are_documented_at_their_public_path() -> None:
    import importlib

    import anycrew.tools.agent_tools as agent_tools

    assert len(set(agent_tools.__all__)) == len(agent_tools.__all__)
    for name in agent_tools.__all__:
        obj = getattr(agent_tools, name)
        if isinstance(obj, type):
            assert obj.__doc__, name
            assert obj.__module__.startswith("anycrew.tools.agent_tools."), name
            assert getattr(importlib.import_module(obj.__module__), name) is obj


async def test_async_tasks_and_copies_each_get_their_own_delegations(recorder: Recorder) -> None:
    researcher = Worker("Researcher")
    crew = Crew(
        agents=[researcher.agent],
        tasks=[
            Task(description="First on {topic}", expected_output="x", async_execution=True),
            Task(description="Second on {topic}", expected_output="x"),
        ],
        process=Process.hierarchical,
        manager_llm=manager_llm([delegate("Researcher", "dig")], "Final Answer: managed"),
    )
    results = await crew.akickoff_for_each([{"topic": "a"}, {"topic": "b"}])
    assert [[t.raw for t in r.tasks_output] for r in results] == [["managed"] * 2] * 2
    assert len(researcher.requests) == 4  # one delegation per task per copy
    # Every delegate nests under a tool call of its own run.
    uses = {e.event_id: e.run_id for e in recorder.of(ToolUsageStartedEvent)}
    for started in recorder.of(AgentExecutionStartedEvent):
        if started.agent_role == "Researcher":
            assert uses[started.parent_event_id] == started.run_id


async def test_a_guardrail_retry_keeps_the_managers_delegation_tools(recorder: Recorder) -> None:
    from anycrew import TaskOutput

    checks: list[str] = []

    def needs_two_tries(output: TaskOutput) -> tuple[bool, Any]:
        checks.append(output.raw)
        return (len(checks) > 1, output.raw if len(checks) > 1 else "check it again")

    researcher = Worker("Researcher")
    crew = hierarchical_crew(
        researcher,
        script=[[delegate("Researcher", "facts")], "Final Answer: plan"],
        guardrail=needs_two_tries,
    )
    assert (await crew.akickoff({"topic": "x"})).raw == "plan"
    assert checks == ["plan", "plan"]
    # The retry is a new attempt of the manager, with the delegation tools again.
    assert len(researcher.requests) == 2
    managers = [
        e for e in recorder.of(AgentExecutionStartedEvent) if e.agent_role == "Crew Manager"
    ]
    assert [e.tools for e in managers] == [[DELEGATE, ASK], [DELEGATE, ASK]]


async def test_a_hook_blocking_a_delegates_call_fails_the_run(recorder: Recorder) -> None:
    from anycrew.errors import LLMCallBlockedError
    from anycrew.hooks import LLMCallHookContext, before_llm_call, scoped_hooks

    researcher = Worker("Researcher")
    crew = hierarchical_crew(researcher, script=[[delegate("Researcher", "facts")], "never"])
    with scoped_hooks():

        @before_llm_call(agents=["Researcher"])
        def deny(context: LLMCallHookContext) -> bool:
            return False

        # A blocked call fails the run cleanly, even inside a delegation: it is not
        # an observation the manager could work around.
        with pytest.raises(LLMCallBlockedError, match="by agent 'Researcher'"):
            await crew.akickoff({"topic": "x"})
    assert researcher.requests == []
    assert [e.agent_role for e in recorder.of(LLMCallStartedEvent)] == ["Crew Manager"]
    # The delegation tool's span closes too.
    assert recorder.types[-5:] == [
        "agent_execution_error",
        "tool_usage_error",
        "agent_execution_error",
        "task_failed",
        "crew_kickoff_failed",
    ]


async def test_a_blocked_call_in_one_of_parallel_delegations_cancels_the_other(
    recorder: Recorder,
) -> None:
    from anycrew.errors import LLMCallBlockedError
    from anycrew.hooks import LLMCallHookContext, before_llm_call, scoped_hooks

    researcher, writer = Worker("Researcher"), Worker("Writer", latency=30.0)
    crew = hierarchical_crew(
        researcher,
        writer,
        script=[[delegate("Writer", "slow draft"), delegate("Researcher", "facts")], "never"],
    )
    with scoped_hooks():

        @before_llm_call(agents=["Researcher"])
        def deny(context: LLMCallHookContext) -> bool:
            return False

        with anyio.fail_after(10), pytest.raises(LLMCallBlockedError):  # as itself
            await crew.akickoff({"topic": "x"})
    assert one(recorder, AgentExecutionCancelledEvent, "Writer")
    assert recorder.types[-1] == "crew_kickoff_failed"
