"""BaseEventListener: a class that registers its handlers when instantiated."""

from __future__ import annotations

from abc import ABC, abstractmethod

from .bus import EventBus, event_bus


class BaseEventListener(ABC):
    """Subclass it and register handlers in :meth:`setup_listeners`.

    Creating an instance registers them on the process-wide bus (or, inside
    ``event_bus.scoped_handlers()``, on the scope's registry)::

        class Tracker(BaseEventListener):
            def setup_listeners(self, bus):
                @bus.on(TaskCompletedEvent)
                def done(source, event):
                    ...

        tracker = Tracker()
    """

    verbose: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.setup_listeners(event_bus)

    @abstractmethod
    def setup_listeners(self, crewai_event_bus: EventBus) -> None:
        """Register this listener's handlers on *crewai_event_bus*."""
