"""The step a kickoff's levels enter: the fast constructors agree with step_context."""

from __future__ import annotations

from typing import Any

from anycrew import runtime
from anycrew.events._emit import StepObjects, agent_step, crew_step, step_context, task_step
from anycrew.types.usage_metrics import UsageMetrics

_FIELDS = ("event_id", "task_id", "task_name", "agent_id", "agent_role", "crew", "task", "agent")


def _shape(step: StepObjects) -> tuple[Any, ...]:
    return (*(getattr(step, name) for name in _FIELDS), step.llm_calls, step.usage)


def _levels(crew: object, task: object, agent: object, usage: UsageMetrics) -> list[Any]:
    return [
        (
            crew_step(crew, "c", usage),
            step_context(crew=crew, span="c", usage=usage),
        ),
        (
            task_step("t-id", "t", task, "t"),
            step_context(task_id="t-id", task_name="t", task=task, span="t"),
        ),
        (
            agent_step("a-id", "a", agent, "a"),
            step_context(agent_id="a-id", agent_role="a", agent=agent, span="a"),
        ),
    ]


def test_each_level_matches_step_context_outside_any_step() -> None:
    crew, task, agent, usage = object(), object(), object(), UsageMetrics()
    for fast, general in _levels(crew, task, agent, usage):
        assert _shape(fast) == _shape(general)


def test_each_level_matches_step_context_inside_another_step() -> None:
    outer_crew, outer_task, outer_agent, outer_usage = object(), object(), object(), UsageMetrics()
    outer = StepObjects(
        "outer",
        "ot-id",
        "ot",
        "oa-id",
        "oa",
        outer_crew,
        outer_task,
        outer_agent,
        usage=outer_usage,
    )
    outer.count_llm_call()
    outer.count_llm_call()
    token = runtime.enter_span(outer)
    try:
        shapes = [
            (_shape(fast), _shape(general))
            for fast, general in _levels(object(), object(), object(), UsageMetrics())
        ]
    finally:
        runtime.leave_span(token)
    for fast, general in shapes:
        assert fast == general
    crew_level, task_level, agent_level = (fast for fast, _ in shapes)
    # The crew and task levels keep the agent's labels and count; the agent starts anew.
    assert crew_level[3:5] == task_level[3:5] == ("oa-id", "oa")
    assert crew_level[-2] == task_level[-2] == 2
    assert agent_level[-2] == 0
    assert task_level[-1] is outer_usage
