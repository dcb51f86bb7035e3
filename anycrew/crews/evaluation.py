"""``crew.test()``: kick a crew off several times and have an LLM score every task's output.

:class:`CrewTestResult` is what it returns (``str()`` of it is the score table CrewAI
prints); :class:`TaskEvaluationPydanticOutput` is the structured answer asked of the
evaluating model, through the same structured-output path as ``Task(output_pydantic=)``
(so a model that answers out of range or off-format is asked again).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .. import runtime
from ..errors import ConfigurationError
from ..events._emit import emit, step_context
from ..events.crew_events import (
    CrewTestCompletedEvent,
    CrewTestFailedEvent,
    CrewTestResultEvent,
    CrewTestStartedEvent,
)
from ..llms._invoke import describe_error
from ..llms.base_llm import BaseLLM

__all__ = ["CrewTestResult", "TaskEvaluationPydanticOutput"]

if TYPE_CHECKING:
    from .._crew_run import TaskPlan
    from ..agent import Agent, AgentPersona
    from ..crew import Crew
    from ..tasks.task_output import TaskOutput


class TaskEvaluationPydanticOutput(BaseModel):
    """The evaluating model's verdict on one task output (CrewAI's name)."""

    quality: float = Field(
        ge=1,
        le=10,
        description=(
            "How well the output does the task, from 1 (useless) to 10 (complete, correct "
            "and exactly what was expected), judged against the task's description and "
            "expected output."
        ),
    )


class CrewTestResult(BaseModel):
    """The scores of a ``crew.test()``: one per task per iteration, with averages.

    ``str(result)`` is a plain-text table: a row per task (its score in each run, the
    average and the agent), the crew's mean score per run, and each run's wall time.

    Attributes:
        crew_name: the crew tested.
        eval_model: the model that scored the outputs.
        tasks: the tasks' names (or the start of their descriptions), in order.
        agents: the role of the agent of each task.
        scores: ``scores[run][task]``, from 1 to 10; ``None`` for a ConditionalTask
            that was skipped in that run (it is not scored, nor averaged).
        durations: ``durations[run][task]``, the seconds each task ran (``None`` if
            it was skipped).
        run_durations: the wall time of each run's kickoff, in seconds.
    """

    model_config = ConfigDict(frozen=True)

    crew_name: str
    eval_model: str
    tasks: list[str]
    agents: list[str]
    scores: list[list[float | None]] = Field(default_factory=list)
    durations: list[list[float | None]] = Field(default_factory=list)
    run_durations: list[float] = Field(default_factory=list)

    @property
    def task_averages(self) -> list[float | None]:
        """Each task's mean score over the runs it was scored in."""
        return [_mean([run[task] for run in self.scores]) for task in range(len(self.tasks))]

    @property
    def run_scores(self) -> list[float | None]:
        """The crew's score in each run: the mean of its scored tasks' scores."""
        return [_mean(run) for run in self.scores]

    @property
    def crew_average(self) -> float | None:
        """The mean of the task averages."""
        return _mean(self.task_averages)

    def __str__(self) -> str:
        runs = range(1, len(self.scores) + 1)
        header = ["Task", *(f"Run {run}" for run in runs), "Avg.", "Agent"]
        rows = [
            [
                f"{position}. {name}",
                *(_shown(run[position - 1], 1) for run in self.scores),
                _shown(average, 1),
                agent,
            ]
            for position, (name, average, agent) in enumerate(
                zip(self.tasks, self.task_averages, self.agents, strict=True), start=1
            )
        ]
        rows.append(
            ["Crew", *(_shown(s, 2) for s in self.run_scores), _shown(self.crew_average, 2), ""]
        )
        seconds = [f"{d:.2f}" for d in self.run_durations]
        rows.append(["Execution time (s)", *seconds, _shown(_mean(self.run_durations), 2), ""])
        title = (
            f"Task scores of crew {self.crew_name!r} "
            f"(1-10, higher is better; scored by {self.eval_model})"
        )
        return title + "\n" + _table(header, rows)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return math.fsum(present) / len(present) if present else None


def _shown(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    last = len(header) - 1

    def line(cells: list[str]) -> str:
        # Names left-aligned, numbers right-aligned; no trailing spaces.
        parts = [
            cell.ljust(widths[i]) if i in (0, last) else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def eval_llm_of(eval_llm: object) -> BaseLLM:
    """The evaluating LLM for a model string or an LLM object.

    Raises:
        ConfigurationError: *eval_llm* is neither (or an invalid model string).
    """
    if isinstance(eval_llm, BaseLLM):
        return eval_llm
    if isinstance(eval_llm, str) and eval_llm.strip():
        from ..llm import LLM

        return LLM(model=eval_llm)
    raise ConfigurationError(
        "crew.test needs eval_llm: a model string ('openai/gpt-4o-mini', 'sim', ...) or an "
        f"LLM object, got {eval_llm!r}"
    )


def check_iterations(n_iterations: object) -> int:
    """*n_iterations* if it is a positive int.

    Raises:
        ConfigurationError: it is not.
    """
    if isinstance(n_iterations, int) and not isinstance(n_iterations, bool) and n_iterations > 0:
        return n_iterations
    raise ConfigurationError(
        f"crew.test needs n_iterations >= 1 (how many times to kick the crew off), "
        f"got {n_iterations!r}"
    )


async def evaluate_crew(
    crew: Crew,
    n_iterations: int,
    eval_llm: object,
    inputs: Mapping[str, Any] | None,
    router: runtime.Router,
) -> CrewTestResult:
    """Run *crew* *n_iterations* times, scoring each task's output (see ``Crew.atest``)."""
    from .._crew_run import precheck_kickoff, run_crew
    from ..agent import Agent
    from ._kickoff_record import KickoffRecord

    runs = check_iterations(n_iterations)
    llm = eval_llm_of(eval_llm)
    model = str(getattr(llm, "model", type(llm).__name__))
    # Everything is checked now, unless before-kickoff callbacks may change the inputs.
    planned = precheck_kickoff(crew, inputs)
    shown_inputs = planned[0] if planned is not None else dict(inputs or {})
    evaluator = Agent(
        role="Task Execution Evaluator",
        goal=(
            "Score how well each task's output does its task, from 1 to 10, judging "
            "completion, correctness and quality against what was asked"
        ),
        backstory="A strict, consistent reviewer of the work of agent crews.",
        llm=llm,
    )
    persona = evaluator.persona({})

    async def body(_run: runtime.Run) -> CrewTestResult:
        started = await emit(
            crew,
            CrewTestStartedEvent(
                crew_name=crew.name, n_iterations=runs, eval_llm=model, inputs=shown_inputs
            ),
        )
        plans: list[TaskPlan] = []
        scores: list[list[float | None]] = []
        durations: list[list[float | None]] = []
        run_durations: list[float] = []
        try:
            with runtime.span(started.event_id):
                for iteration in range(1, runs + 1):
                    records: list[KickoffRecord] = []
                    began = time.perf_counter()
                    await run_crew(crew, inputs, router, planned=planned, on_record=records.append)
                    run_durations.append(time.perf_counter() - began)
                    (record,) = records
                    plans = record.plans
                    run_scores: list[float | None] = []
                    for plan, task_output in zip(plans, record.outputs, strict=True):
                        assert task_output is not None
                        if record.durations[plan.index] is None:
                            run_scores.append(None)  # a skipped ConditionalTask
                            continue
                        quality = await _score(evaluator, persona, plan, task_output)
                        with step_context(
                            task_id=str(plan.task.id), task_name=plan.task.display_name
                        ):
                            await emit(
                                crew,
                                CrewTestResultEvent(
                                    crew_name=crew.name,
                                    quality=quality,
                                    execution_duration=record.durations[plan.index],
                                    model=model,
                                    iteration=iteration,
                                ),
                            )
                        run_scores.append(quality)
                    scores.append(run_scores)
                    durations.append(list(record.durations))
        except Exception as exc:
            await emit(
                crew,
                CrewTestFailedEvent(
                    crew_name=crew.name,
                    error=describe_error(exc),
                    started_event_id=started.event_id,
                ),
            )
            raise
        await emit(
            crew, CrewTestCompletedEvent(crew_name=crew.name, started_event_id=started.event_id)
        )
        return CrewTestResult(
            crew_name=crew.name,
            eval_model=model,
            tasks=[_task_label(plan) for plan in plans],
            agents=[plan.persona.role for plan in plans],
            scores=scores,
            durations=durations,
            run_durations=run_durations,
        )

    return await runtime.open_run(body, router=router)


def _task_label(plan: TaskPlan) -> str:
    """The task's name, else the first line of its description with the inputs filled in."""
    if plan.task.name:
        return plan.task.name
    first = plan.description.strip().splitlines()[0] if plan.description.strip() else ""
    return first if len(first) <= 60 else first[:57] + "..."


async def _score(
    evaluator: Agent, persona: AgentPersona, plan: TaskPlan, output: TaskOutput
) -> float:
    name = _task_label(plan)
    with step_context(task_name=f"evaluate {name}"):
        answer = await evaluator.aexecute_task(
            persona,
            description=(
                "Score the output below against its task, from 1 to 10, judging how "
                "completely, correctly and well it does what the task asked.\n\n"
                f"Task: {plan.description}\n"
                f"Expected output: {plan.expected_output}\n"
                f"Agent: {plan.persona.role} (goal: {plan.persona.goal})\n\n"
                f"Output to score:\n{output.raw}"
            ),
            expected_output="A score from 1 to 10",
            context=None,
            task_name=f"evaluate {name}",
            output_model=TaskEvaluationPydanticOutput,
        )
    verdict = answer.structured
    assert isinstance(verdict, TaskEvaluationPydanticOutput)
    return verdict.quality
