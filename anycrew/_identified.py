"""The base of the models that carry a frozen ``id`` and label events with it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


class Identified(BaseModel):
    """A model with a frozen ``id``, whose text is worked out once per object.

    Every kickoff labels its events with the ids of its tasks and agents; formatting
    a UUID each time cost more than the rest of the labelling.
    """

    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, frozen=True)

    @cached_property
    def _id_text(self) -> str:
        return str(self.id)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; one given a new ``id`` in *update* works out its id text anew."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("_id_text", None)  # the cached property's slot
        return copied
