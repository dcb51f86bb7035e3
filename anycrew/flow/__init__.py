"""Flows: ``from anycrew.flow import Flow, start, listen, router, or_, and_``.

A flow wires methods with ``@start``, ``@listen`` and ``@router`` and runs them with
structured concurrency; see :class:`Flow`. ``@persist`` saves the state through
``anycrew.flow.persistence`` so a run can resume or fork.
"""

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

__all__ = ["Condition", "Flow", "and_", "listen", "or_", "persist", "router", "start"]
