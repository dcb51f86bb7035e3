"""The types of human feedback that can wait: the pending context, the pause signal, providers.

A provider asked for feedback either answers at once (returns the text) or pauses the
flow by raising :class:`HumanFeedbackPending`; the flow then saves everything it needs
to continue in a :class:`PendingFeedbackContext` and its kickoff returns the pending
object. ``Flow.from_pending(flow_id)`` and ``flow.resume(feedback)`` continue it later,
in this process or another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from ..flow import Flow


def json_safe(value: Any) -> Any:
    """*value* as plain JSON data: models dumped, dataclasses as dicts, the rest as str."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return str(value)


@dataclass
class PendingFeedbackContext:
    """Everything needed to continue a flow that waits for human feedback.

    Attributes:
        flow_id: the flow's id (its ``state.id``).
        flow_class: the flow's class, as ``module.QualifiedName``.
        method_name: the ``@human_feedback`` method whose output awaits review.
        method_output: that method's output, as shown to the human.
        message: the request shown with it.
        emit: the outcomes the feedback is collapsed to, if the method routes.
        default_outcome: the outcome used when the feedback is empty.
        metadata: free data for the system that collects the feedback.
        llm: the model that collapses the feedback (its name, for information).
        requested_at: when the feedback was requested.
    """

    flow_id: str
    flow_class: str
    method_name: str
    method_output: Any
    message: str
    emit: list[str] | None = None
    default_outcome: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    llm: str | None = None
    requested_at: datetime = field(default_factory=datetime.now)

    def to_dict(self) -> dict[str, Any]:
        """The context as plain JSON data (the output made JSON-safe)."""
        return {
            "flow_id": self.flow_id,
            "flow_class": self.flow_class,
            "method_name": self.method_name,
            "method_output": json_safe(self.method_output),
            "message": self.message,
            "emit": list(self.emit) if self.emit is not None else None,
            "default_outcome": self.default_outcome,
            "metadata": json_safe(self.metadata),
            "llm": self.llm,
            "requested_at": self.requested_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingFeedbackContext:
        """Rebuild a context from :meth:`to_dict`'s output.

        Raises:
            ValueError: *data* lacks ``flow_id``, ``flow_class`` or ``method_name``.
        """
        missing = [k for k in ("flow_id", "flow_class", "method_name") if k not in data]
        if missing:
            raise ValueError(
                f"a pending feedback context needs {', '.join(missing)}; the stored record "
                "is incomplete"
            )
        requested = data.get("requested_at")
        return cls(
            flow_id=str(data["flow_id"]),
            flow_class=str(data["flow_class"]),
            method_name=str(data["method_name"]),
            method_output=data.get("method_output"),
            message=str(data.get("message", "")),
            emit=data.get("emit"),
            default_outcome=data.get("default_outcome"),
            metadata=dict(data.get("metadata") or {}),
            llm=data.get("llm"),
            requested_at=(
                datetime.fromisoformat(requested) if isinstance(requested, str) else datetime.now()
            ),
        )


class HumanFeedbackPending(Exception):
    """Raised by a provider to pause the flow until the feedback arrives.

    The flow saves its state and *context*, emits ``FlowPausedEvent`` and its kickoff
    **returns** this object rather than raising it::

        result = flow.kickoff()
        if isinstance(result, HumanFeedbackPending):
            notify_reviewer(result.context.flow_id, result.callback_info)

    Attributes:
        context: what the flow waits for (see :class:`PendingFeedbackContext`).
        callback_info: free data for the system that will deliver the feedback (a
            ticket id, a webhook, a chat thread).
    """

    def __init__(
        self,
        context: PendingFeedbackContext,
        callback_info: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        self.context = context
        self.callback_info = dict(callback_info or {})
        super().__init__(
            message
            or f"human feedback pending for flow {context.flow_id!r} at method "
            f"{context.method_name!r}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # kickoff() returns this object: it must survive pickling (process pools,
        # task queues), and its constructor does not take what ``args`` holds.
        return (type(self), (self.context, self.callback_info, str(self)))


@runtime_checkable
class HumanFeedbackProvider(Protocol):
    """How a ``@human_feedback`` method obtains its feedback.

    ``request_feedback`` may be a plain method (it runs in a worker thread, so it may
    block) or ``async`` (it runs on the flow's loop and is cancelled with the flow).
    It returns the feedback text, or raises :class:`HumanFeedbackPending` to pause
    the flow until the feedback is delivered with ``flow.resume(...)``.
    """

    def request_feedback(
        self, context: PendingFeedbackContext, flow: Flow[Any]
    ) -> str | Awaitable[str]:
        """Return the human's feedback on ``context.method_output``, or raise to pause."""
        ...
