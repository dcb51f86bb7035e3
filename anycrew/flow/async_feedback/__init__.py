"""Human feedback that can wait: ``from anycrew.flow.async_feedback import ...``.

:class:`HumanFeedbackProvider` is how a ``@human_feedback`` method gets its feedback;
a provider pauses the flow by raising :class:`HumanFeedbackPending`, whose
:class:`PendingFeedbackContext` the flow saves so ``Flow.from_pending`` and
``flow.resume`` can continue it. :class:`ConsoleProvider` is the default.
"""

from .providers import ConsoleProvider as ConsoleProvider
from .types import HumanFeedbackPending as HumanFeedbackPending
from .types import HumanFeedbackProvider as HumanFeedbackProvider
from .types import PendingFeedbackContext as PendingFeedbackContext

__all__ = [
    "ConsoleProvider",
    "HumanFeedbackPending",
    "HumanFeedbackProvider",
    "PendingFeedbackContext",
]
