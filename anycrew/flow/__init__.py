"""Flows: ``from anycrew.flow import Flow, start, listen, router, or_, and_``.

A flow wires methods with ``@start``, ``@listen`` and ``@router`` and runs them with
structured concurrency; see :class:`Flow`. ``@persist`` saves the state through
``anycrew.flow.persistence`` so a run can resume or fork. ``@human_feedback`` asks a
person to review a method's output (``anycrew.flow.async_feedback`` for providers
that pause the flow until the answer comes).
"""

from .async_feedback import ConsoleProvider as ConsoleProvider
from .async_feedback import HumanFeedbackPending as HumanFeedbackPending
from .async_feedback import HumanFeedbackProvider as HumanFeedbackProvider
from .async_feedback import PendingFeedbackContext as PendingFeedbackContext
from .decorators import (
    Condition as Condition,
)
from .decorators import (
    and_ as and_,
)
from .decorators import (
    listen as listen,
)
from .decorators import (
    or_ as or_,
)
from .decorators import (
    persist as persist,
)
from .decorators import (
    router as router,
)
from .decorators import (
    start as start,
)
from .flow import Flow as Flow
from .human_feedback import HumanFeedbackResult as HumanFeedbackResult
from .human_feedback import human_feedback as human_feedback

__all__ = [
    "Condition",
    "ConsoleProvider",
    "Flow",
    "HumanFeedbackPending",
    "HumanFeedbackProvider",
    "HumanFeedbackResult",
    "PendingFeedbackContext",
    "and_",
    "human_feedback",
    "listen",
    "or_",
    "persist",
    "router",
    "start",
]
