"""StreamFrame: the stable envelope a stream session yields for each event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python

from ..events.base import BaseEvent

# Event fields that become the frame's envelope and are left out of ``data``.
_ENVELOPE: set[str] = {
    "type",
    "timestamp",
    "event_id",
    "parent_event_id",
    "previous_event_id",
    "emission_sequence",
}
# Event fields that name where a frame comes from, in namespace order.
_NAMESPACE_FIELDS = (
    "flow_name",
    "method_name",
    "session_id",
    "call_id",
    "tool_name",
    "agent_role",
    "task_name",
)


_PLAIN = frozenset((str, int, float, bool, type(None)))


_needs_model_dump: dict[type, bool] = {}


def _payload(event: BaseEvent) -> dict[str, Any]:
    """The event's fields minus the envelope, as JSON-safe values.

    Plain values are taken as they are and only the others go through pydantic's
    JSON conversion: a token chunk's frame costs a few microseconds, not a full
    ``model_dump``. Event classes that shape their output (serializers, excluded
    or computed fields) take the full path.
    """
    cls = type(event)
    full = _needs_model_dump.get(cls)
    if full is None:
        decorators = cls.__pydantic_decorators__
        full = _needs_model_dump[cls] = bool(
            decorators.field_serializers
            or decorators.model_serializers
            or cls.model_computed_fields
            or any(field.exclude for field in cls.model_fields.values())
        )
    if full:
        return event.model_dump(mode="json", exclude=_ENVELOPE)
    return {
        key: value if type(value) in _PLAIN else to_jsonable_python(value)
        for key, value in event.__dict__.items()
        if key not in _ENVELOPE
    }


class StreamFrame(BaseModel):
    """One event of a run, as a stream session yields it (frame contract "v1").

    Attributes:
        version: the contract version, "v1".
        id: the event's id.
        seq: the event's place in its run (gap-free from 0).
        type: the event's type string, e.g. "llm_stream_chunk".
        channel: "llm", "flow", "tools", "messages", "lifecycle" or "custom".
        namespace: the channel, then whichever of flow name, method name, session
            id, call id, tool name, agent role and task name the event carries.
        timestamp: when the event was created.
        parent_id: the id of the event this one happened inside.
        previous_id: the id of the run's previous event.
        data: the event's payload as a JSON-safe dict (without the envelope fields).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    version: Literal["v1"] = "v1"
    id: str
    seq: int | None
    type: str
    channel: str
    namespace: list[str]
    timestamp: datetime
    parent_id: str | None = None
    previous_id: str | None = None
    data: dict[str, Any]

    @property
    def event(self) -> dict[str, Any]:
        """The payload (an alias of ``data``)."""
        return self.data

    @property
    def content(self) -> str:
        """The printable text of token-like frames (``data["chunk"]``), else ""."""
        chunk = self.data.get("chunk")
        return chunk if isinstance(chunk, str) else ""

    @classmethod
    def from_event(cls, event: BaseEvent) -> StreamFrame:
        """The frame for *event* (stamped by its run)."""
        data = _payload(event)
        namespace = [event.channel]
        namespace.extend(
            value
            for name in _NAMESPACE_FIELDS
            if isinstance(value := data.get(name), str) and value
        )
        return cls(
            id=event.event_id,
            seq=event.emission_sequence,
            type=event.type,
            channel=event.channel,
            namespace=namespace,
            timestamp=event.timestamp,
            parent_id=event.parent_event_id,
            previous_id=event.previous_event_id,
            data=data,
        )
