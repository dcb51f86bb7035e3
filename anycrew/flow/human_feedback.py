"""``@human_feedback``: a person reviews a flow method's output before the flow goes on.

``from anycrew.flow import human_feedback`` (also at CrewAI's path,
``anycrew.flow.human_feedback``). The decorator only marks the method; the flow's
engine asks the provider after the method returns, collapses the answer to an
outcome when the method routes (``emit=[...]``), and pauses the flow when the
provider raises :class:`~anycrew.flow.async_feedback.HumanFeedbackPending`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .._user_code import call_user
from .async_feedback.types import (
    HumanFeedbackProvider,
    PendingFeedbackContext,
    json_safe,
)

if TYPE_CHECKING:
    from ..llms.base_llm import BaseLLM
    from .flow import Flow

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("anycrew.flow")


@dataclass
class HumanFeedbackResult:
    """What a ``@human_feedback`` method's review produced.

    Listeners of the method receive it (a routing method's outcome listeners too),
    and the flow keeps it in ``last_human_feedback`` and ``human_feedback_history``.

    Attributes:
        output: the method's return value, as shown to the human.
        feedback: the human's text ("" when they gave none).
        outcome: the outcome the feedback was collapsed to (``None`` without ``emit``).
        timestamp: when the feedback was received.
        method_name: the reviewed method.
        metadata: the decorator's ``metadata``.
    """

    output: Any
    feedback: str
    outcome: str | None = None
    timestamp: datetime = field(default_factory=datetime.now)
    method_name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def result_to_dict(result: HumanFeedbackResult) -> dict[str, Any]:
    """*result* as plain JSON data (for the run's saved progress)."""
    data: dict[str, Any] = json_safe(result)
    return data


def result_from_dict(data: dict[str, Any]) -> HumanFeedbackResult:
    """The result :func:`result_to_dict` saved."""
    stamp = data.get("timestamp")
    return HumanFeedbackResult(
        output=data.get("output"),
        feedback=str(data.get("feedback", "")),
        outcome=data.get("outcome"),
        timestamp=datetime.fromisoformat(stamp) if isinstance(stamp, str) else datetime.now(),
        method_name=str(data.get("method_name", "")),
        metadata=dict(data.get("metadata") or {}),
    )


@dataclass(frozen=True)
class HumanFeedbackConfig:
    """The arguments of one ``@human_feedback`` decoration."""

    message: str
    emit: tuple[str, ...] | None = None
    llm: str | BaseLLM | None = "gpt-4o-mini"
    default_outcome: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    provider: HumanFeedbackProvider | None = None

    def llm_name(self) -> str | None:
        """The collapsing model's name, for the pending context (never its settings)."""
        if self.llm is None or isinstance(self.llm, str):
            return self.llm
        return str(getattr(self.llm, "model", type(self.llm).__name__))


def human_feedback(
    message: str,
    emit: Sequence[str] | None = None,
    llm: str | BaseLLM | None = "gpt-4o-mini",
    default_outcome: str | None = None,
    metadata: dict[str, Any] | None = None,
    provider: HumanFeedbackProvider | None = None,
) -> Callable[[F], F]:
    """Ask a human for feedback on the decorated flow method's output.

    After the method returns, *provider* (default: :class:`ConsoleProvider`) is
    asked for feedback on its output. Without *emit*, the method's listeners
    receive a :class:`HumanFeedbackResult`. With *emit*, the method is a router:
    *llm* collapses the feedback to one of the outcomes (empty feedback gives
    *default_outcome*, or the first outcome), listeners of that outcome run and
    receive the :class:`HumanFeedbackResult`. A provider that raises
    ``HumanFeedbackPending`` pauses the flow: see ``Flow.from_pending``.

    Combine it with ``@start()``, ``@listen(...)`` in any order.

    Args:
        message: the request shown to the human with the output.
        emit: the outcomes the feedback is collapsed to (router labels).
        llm: a model string or LLM collapsing the feedback; needed with *emit*.
        default_outcome: the outcome of empty feedback; one of *emit*.
        metadata: free data passed to the provider and kept in the result.
        provider: where the feedback comes from (sync or async ``request_feedback``).

    Raises:
        ValueError: *emit* is empty or holds a non-string or a duplicate, *emit*
            without *llm*, *default_outcome* without *emit* or not one of it, or
            an empty *message*.
        TypeError: *provider* has no ``request_feedback`` method.
    """
    if not isinstance(message, str) or not message.strip():
        raise ValueError("@human_feedback needs a message: the request shown to the human")
    outcomes: tuple[str, ...] | None = None
    if emit is not None:
        if isinstance(emit, str):
            raise ValueError(f"@human_feedback emit is a list of outcomes, not a str: {emit!r}")
        outcomes = tuple(emit)
        if not outcomes or not all(isinstance(o, str) and o for o in outcomes):
            raise ValueError(
                f"@human_feedback emit must list non-empty outcome strings, got {list(emit)!r}"
            )
        if len(set(outcomes)) != len(outcomes):
            raise ValueError(f"@human_feedback emit lists an outcome twice: {list(outcomes)!r}")
        if not llm:
            raise ValueError(
                "@human_feedback with emit needs llm=... (a model string or an LLM) to "
                "collapse the feedback to one of the outcomes"
            )
        if default_outcome is not None and default_outcome not in outcomes:
            raise ValueError(
                f"@human_feedback default_outcome {default_outcome!r} is not one of emit "
                f"{list(outcomes)!r}"
            )
    elif default_outcome is not None:
        raise ValueError("@human_feedback default_outcome needs emit=[...] to choose from")
    if provider is not None and not callable(getattr(provider, "request_feedback", None)):
        raise TypeError(
            f"@human_feedback provider {provider!r} has no request_feedback(context, flow) "
            "method; implement HumanFeedbackProvider"
        )
    config = HumanFeedbackConfig(
        message=message,
        emit=outcomes,
        llm=llm,
        default_outcome=default_outcome,
        metadata=dict(metadata or {}),
        provider=provider,
    )

    def mark(method: F) -> F:
        method.__flow_feedback__ = config  # type: ignore[attr-defined]
        if outcomes is not None:
            method.__flow_router__ = True  # type: ignore[attr-defined]
        return method

    return mark


def build_context(flow: Flow[Any], name: str, config: HumanFeedbackConfig, output: Any) -> Any:
    """The pending context of *flow*'s method *name* that returned *output*."""
    cls = type(flow)
    return PendingFeedbackContext(
        flow_id=flow.flow_id,
        flow_class=f"{cls.__module__}.{cls.__qualname__}",
        method_name=name,
        method_output=output,
        message=config.message,
        emit=list(config.emit) if config.emit is not None else None,
        default_outcome=config.default_outcome,
        metadata=dict(config.metadata),
        llm=config.llm_name(),
    )


async def request_feedback(
    flow: Flow[Any], config: HumanFeedbackConfig, context: PendingFeedbackContext
) -> str:
    """Ask *config*'s provider (or the console) for feedback; may raise HumanFeedbackPending.

    An async ``request_feedback`` runs on the loop; a sync one in a worker thread.

    Raises:
        TypeError: the provider returned something other than a str.
    """
    from .async_feedback.providers import ConsoleProvider

    provider = config.provider if config.provider is not None else ConsoleProvider()
    ask = provider.request_feedback
    answer: Any = await call_user(ask, context, flow)
    if answer is None:
        return ""
    if not isinstance(answer, str):
        raise TypeError(
            f"{type(provider).__name__}.request_feedback returned a "
            f"{type(answer).__name__}; return the feedback as a str"
        )
    return answer


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", " ", text.lower()).strip()


def match_outcome(reply: str, outcomes: Sequence[str]) -> str | None:
    """The outcome *reply* names: an exact match, else the only one it mentions."""
    said = _normalise(reply)
    for outcome in outcomes:
        if said == _normalise(outcome):
            return outcome
    mentioned = [o for o in outcomes if re.search(rf"\b{re.escape(_normalise(o))}\b", said)]
    return mentioned[0] if len(mentioned) == 1 else None


async def collapse_to_outcome(feedback: str, config: HumanFeedbackConfig, method_name: str) -> str:
    """Collapse *feedback* to one of ``config.emit`` (empty feedback: the default).

    The LLM is asked to answer with one outcome; a reply that names none (or
    several) falls back to the default outcome, or the first, and is logged.
    """
    outcomes = config.emit or ()
    fallback = config.default_outcome or outcomes[0]
    if not feedback.strip():
        return fallback
    from ..llm import LLM

    llm = LLM(model=config.llm) if isinstance(config.llm, str) else config.llm
    assert llm is not None  # the decorator requires an llm with emit
    listed = ", ".join(outcomes)
    reply = await llm.acall(
        [
            {
                "role": "system",
                "content": (
                    "You sort a reviewer's feedback into exactly one outcome. Answer with "
                    f"the outcome only, one of: {listed}."
                ),
            },
            {
                "role": "user",
                "content": f"Outcomes: {listed}\nFeedback: {feedback}\nOutcome:",
            },
        ]
    )
    chosen = match_outcome(reply, outcomes)
    if chosen is None:
        logger.warning(
            "feedback on %s could not be sorted into %s (the model said %r); using %r",
            method_name,
            listed,
            reply[:80],
            fallback,
        )
        return fallback
    return chosen


async def review_output(
    flow: Flow[Any], name: str, config: HumanFeedbackConfig, output: Any, given: str | None = None
) -> HumanFeedbackResult:
    """Get feedback on *output* of *flow*'s method *name* (or use *given*) and record it.

    Emits ``HumanFeedbackRequestedEvent`` (when asking) and
    ``HumanFeedbackReceivedEvent``, collapses the feedback to an outcome when the
    method routes, and appends the result to the flow's history.

    Raises:
        HumanFeedbackPending: the provider paused the flow.
    """
    from ..events._emit import emit
    from ..events.flow_events import HumanFeedbackReceivedEvent, HumanFeedbackRequestedEvent

    if given is None:
        await emit(
            flow,
            HumanFeedbackRequestedEvent(
                flow_name=flow.name,
                method_name=name,
                output=json_safe(output),
                message=config.message,
                emit=list(config.emit) if config.emit else None,
            ),
        )
        given = await request_feedback(flow, config, build_context(flow, name, config, output))
    outcome = await collapse_to_outcome(given, config, name) if config.emit else None
    result = HumanFeedbackResult(
        output=output,
        feedback=given,
        outcome=outcome,
        method_name=name,
        metadata=dict(config.metadata),
    )
    flow.human_feedback_history.append(result)
    flow.last_human_feedback = result
    await emit(
        flow,
        HumanFeedbackReceivedEvent(
            flow_name=flow.name, method_name=name, feedback=given, outcome=outcome
        ),
    )
    return result
