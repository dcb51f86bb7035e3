"""BaseEvent: the envelope every event carries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..runtime._ids import new_uuid_id

Channel = Literal["llm", "flow", "tools", "messages", "lifecycle", "custom"]

#: The channels an event can travel on.
CHANNELS: frozenset[str] = frozenset(("llm", "flow", "tools", "messages", "lifecycle", "custom"))

#: A fresh, process-unique event id in UUID4 form (see anycrew.runtime._ids).
new_event_id = new_uuid_id

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _default_type(cls_name: str) -> str:
    if cls_name.endswith("Event") and cls_name != "Event":
        cls_name = cls_name[: -len("Event")]
    return _CAMEL.sub("_", cls_name).lower()


# The default ``type`` of each event class, worked out once per class: the regular
# expression would otherwise run for every event emitted.
_TYPE_NAMES: dict[type, str] = {}


def _type_name(cls: type) -> str:
    name = _TYPE_NAMES.get(cls)
    if name is None:
        name = _TYPE_NAMES[cls] = _default_type(cls.__name__)
    return name


class BaseEvent(BaseModel):
    """Base class of all events.

    The envelope fields (``emission_sequence``, ``parent_event_id``,
    ``previous_event_id``, ``run_id``) are filled in when the event is emitted into
    a run. ``type`` defaults to the snake_case class name without its ``Event``
    suffix (``CrewKickoffStartedEvent`` -> ``"crew_kickoff_started"``). Subclasses
    choose their stream channel with the class attribute ``channel`` (default
    ``"custom"``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    channel: ClassVar[str] = "custom"

    type: str = ""
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    event_id: str = Field(default_factory=new_event_id)
    parent_event_id: str | None = None
    previous_event_id: str | None = None
    started_event_id: str | None = None
    emission_sequence: int | None = None
    run_id: str | None = None
    task_id: str | None = None
    task_name: str | None = None
    agent_id: str | None = None
    agent_role: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.channel not in CHANNELS:
            raise TypeError(
                f"{cls.__name__}.channel is {cls.channel!r}; choose one of {sorted(CHANNELS)}"
            )

    def model_post_init(self, context: Any, /) -> None:
        if not self.type:
            # Straight into the model's dict: a plain, valid str, and pydantic's
            # __setattr__ would cost as much as the rest of this method.
            self.__dict__["type"] = _type_name(type(self))
