"""One task's work inside a kickoff: the agent's attempts, its guardrails, human review.

The agent answers; each guardrail checks the answer in order. A failed check sends
the agent back with the guardrail's message (a new attempt, with its own agent and
LLM events) and the new answer is checked again from the first guardrail; each
guardrail may do that ``guardrail_max_retries`` times. With ``human_input`` the
accepted answer then goes to the human input provider; feedback starts a revision,
which passes the guardrails again before the human sees it.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from . import runtime
from ._prompts import parse_structured
from ._user_code import call_user
from ._verbose import say
from .agent import AgentAnswer
from .errors import GuardrailError, OutputValidationError
from .events._emit import emit
from .events.llm_guardrail_events import LLMGuardrailCompletedEvent, LLMGuardrailStartedEvent
from .human_input import MAX_FEEDBACK_ROUNDS, HumanFeedbackRequest, current_provider
from .llms._invoke import describe_error
from .tasks.guardrail import Guardrail, GuardrailResult
from .tasks.llm_guardrail import LLMGuardrail
from .tasks.output_format import OutputFormat
from .tasks.task_output import TaskOutput, summary_of

if TYPE_CHECKING:
    from ._crew_run import TaskPlan


async def produce_output(plan: TaskPlan, context: str, verbose: bool) -> TaskOutput:
    """The task's accepted output: answered, checked by its guardrails, reviewed.

    Raises:
        GuardrailError: when a guardrail still fails after its retries.
        GuardrailResultError: when a guardrail returns something unusable.
        OutputValidationError: when an answer (or a guardrail's replacement text)
            does not fit the task's output model.
    """
    task = plan.task
    retries = [0] * len(task.guardrail_checks)
    feedback_note: str | None = None
    revisions = 0
    while True:
        output = await _checked_answer(plan, context, retries, feedback_note, verbose)
        if not task.human_input or revisions == MAX_FEEDBACK_ROUNDS:
            return output
        feedback = await _ask_human(plan, output, revisions)
        if not feedback:
            return output
        revisions += 1
        if verbose:
            say(f"task {task.display_name!r}: revising after human feedback ({revisions})")
        feedback_note = _feedback_note(output.raw, feedback)


async def _checked_answer(
    plan: TaskPlan, context: str, retries: list[int], note: str | None, verbose: bool
) -> TaskOutput:
    task = plan.task
    checks = task.guardrail_checks
    output = await _attempt(plan, context, note)
    position = 0
    while position < len(checks):
        check = checks[position]
        result = await _run_check(plan, check, output, retries[position])
        if result.success:
            output = _apply(plan, check, output, result.result)
            position += 1
            continue
        error = result.error or "the guardrail rejected the output"
        if retries[position] >= task.guardrail_max_retries:
            raise GuardrailError(task.display_name, check.name, retries[position], error)
        retries[position] += 1
        if verbose:
            say(
                f"task {task.display_name!r}: guardrail {check.name!r} failed "
                f"(retry {retries[position]}/{task.guardrail_max_retries}): {error}"
            )
        retry_note = _guardrail_note(output.raw, error)
        output = await _attempt(plan, context, f"{note}\n\n{retry_note}" if note else retry_note)
        position = 0  # the new answer must pass every guardrail again
    return output


async def _attempt(plan: TaskPlan, context: str, note: str | None) -> TaskOutput:
    return task_output(plan, await agent_answer(plan, context, note))


def agent_answer(
    plan: TaskPlan, context: str, note: str | None
) -> Coroutine[Any, Any, AgentAnswer]:
    """The agent's coroutine for one attempt at the task (with *note* appended).

    Handed back for the caller to await: one coroutine level less.
    """
    return plan.agent.aexecute_task(
        plan.persona,
        description=plan.description if note is None else f"{plan.description}\n\n{note}",
        expected_output=plan.expected_output,
        context=context or None,
        task_name=plan.task_name,
        output_model=plan.task.output_model,
        tools=plan.tools,
    )


async def _run_check(
    plan: TaskPlan, check: Guardrail, output: TaskOutput, retry_count: int
) -> GuardrailResult:
    task = plan.task
    labels: dict[str, Any] = {
        "guardrail_type": check.kind,
        "guardrail_name": check.name,
        "guardrail_index": check.index,
        "retry_count": retry_count,
    }
    started = await emit(task, LLMGuardrailStartedEvent(guardrail=check.name, **labels))
    try:
        with runtime.span(started.event_id):
            if isinstance(check.check, LLMGuardrail):
                value = await check.check.acheck(output, llm=plan.agent.llm)
            else:
                value = await call_user(check.check, output)
            result = GuardrailResult.from_tuple(value, check.name)
    except Exception as exc:
        await emit(
            task,
            LLMGuardrailCompletedEvent(
                success=False,
                error=describe_error(exc),
                started_event_id=started.event_id,
                **labels,
            ),
        )
        raise
    await emit(
        task,
        LLMGuardrailCompletedEvent(
            success=result.success,
            result=result.result,
            error=result.error,
            started_event_id=started.event_id,
            **labels,
        ),
    )
    return result


def _apply(plan: TaskPlan, check: Guardrail, output: TaskOutput, value: Any) -> TaskOutput:
    """The output after a passing guardrail returned *value* with its pass."""
    if isinstance(value, TaskOutput):
        return value
    if not isinstance(value, str) or value == output.raw:
        return output
    task = plan.task
    model = task.output_model
    if model is None:
        return output.model_copy(update={"raw": value})
    try:
        structured = parse_structured(value, model)
    except ValueError as problem:
        raise OutputValidationError(
            task.display_name,
            model.__name__,
            f"guardrail {check.name!r} replaced the answer with text that does not fit: {problem}",
        ) from None
    if task.output_pydantic is not None:
        return output.model_copy(update={"raw": value, "pydantic": structured})
    return output.model_copy(update={"raw": value, "json_dict": structured.model_dump(mode="json")})


async def _ask_human(plan: TaskPlan, output: TaskOutput, round_: int) -> str:
    request = HumanFeedbackRequest(
        task_name=plan.task_name,
        agent_role=plan.persona.role,
        output=output,
        round=round_,
    )
    feedback = await call_user(current_provider(), request)
    if feedback is None:
        return ""
    if not isinstance(feedback, str):
        raise TypeError(
            f"the human input provider returned {type(feedback).__name__} for task "
            f"{plan.task.display_name!r}; return the feedback as a str ('' accepts the answer)"
        )
    return feedback.strip()


def _guardrail_note(previous: str, error: str) -> str:
    return (
        f"Your previous answer did not pass a check: {error}\n\n"
        f"Your previous answer was:\n{previous}\n\n"
        "Answer the task again, fixing what the check found."
    )


def _feedback_note(previous: str, feedback: str) -> str:
    return (
        f"A human reviewed your previous answer and asked for changes: {feedback}\n\n"
        f"Your previous answer was:\n{previous}\n\n"
        "Revise it as asked and give the complete revised answer."
    )


def task_output(plan: TaskPlan, answer: AgentAnswer) -> TaskOutput:
    """The TaskOutput of one answer of the agent to *plan*."""
    task = plan.task
    structured = answer.structured
    output_format = OutputFormat.RAW
    if structured is not None:
        output_format = OutputFormat.PYDANTIC if task.output_pydantic else OutputFormat.JSON
    return TaskOutput(
        description=plan.description,
        summary=summary_of(plan.description),  # given: the validator has nothing to do
        name=task.name,
        expected_output=plan.expected_output,
        raw=answer.text,
        pydantic=structured if output_format is OutputFormat.PYDANTIC else None,
        json_dict=structured.model_dump(mode="json")
        if structured is not None and output_format is OutputFormat.JSON
        else None,
        agent=plan.persona.role,
        output_format=output_format,
    )
