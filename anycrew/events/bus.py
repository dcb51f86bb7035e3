"""The event bus: where handlers are registered and how events reach them.

Registration follows CrewAI's API (``@event_bus.on(EventType)``, ``register_handler``,
``off``, ``scoped_handlers()``). A handler is ``handler(source, event)``, sync or
async, and receives every event that is an instance of the type it registered for.

Delivery happens in the run that emitted the event (see ``anycrew.runtime``):

* async handlers are awaited one after another on the run's event loop: the
  caller's loop for ``akickoff``, the private loop of ``kickoff`` and of
  ``kickoff_async``'s worker thread;
* sync handlers are called one after another in a worker thread owned by the run,
  so a sync handler that blocks delays only the delivery of later events to sync
  handlers, never the event loop;
* both see the run's events in emission order, and when a kickoff returns or
  raises, every handler has finished with every event of that run.

A handler that raises is logged (logger ``anycrew.events``) and changes nothing else.

Scoping: ``with event_bus.scoped_handlers():`` starts an empty registry for the
current context (thread or task); handlers registered inside see only the runs
started inside the block, global handlers do not see those runs, and the scoped
handlers are gone when the block ends. ``run_id=`` limits a handler to one run.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from .._user_code import is_async_callable
from ..runtime import (
    AsyncHandler,
    SyncHandler,
    call_async_handlers,
    call_sync_handlers,
    current_parent_id,
    current_run,
    emit_from_thread,
    run_blocking,
)
from .base import BaseEvent

E = TypeVar("E", bound=BaseEvent)
H = TypeVar("H", bound=Callable[..., Any])

_order = itertools.count()


@dataclass(frozen=True, slots=True)
class _Registration:
    order: int
    event_type: type[BaseEvent]
    handler: Callable[[Any, Any], Any]
    is_async: bool
    run_id: str | None


@dataclass(frozen=True, slots=True)
class _Route:
    """Where the events of one class go: worked out once, until registrations change."""

    sync: list[_Registration]
    async_: list[_Registration]
    filtered: bool  # some registration is limited to one run
    any: bool  # some registration at all
    sync_handlers: tuple[SyncHandler, ...]  # the handlers, when none is filtered
    async_handlers: tuple[AsyncHandler, ...]


class HandlerRegistry:
    """A set of handler registrations; the run's router to its handlers.

    Thread-safe. Lookups are cached per event class and invalidated on change.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registrations: dict[type[BaseEvent], list[_Registration]] = {}
        self._cache: dict[type, _Route] = {}
        #: No handler registered (see runtime.Router.quiet).
        self.quiet = True

    def add(
        self, event_type: type[BaseEvent], handler: Callable[..., Any], run_id: str | None
    ) -> None:
        registration = _Registration(
            next(_order), event_type, handler, is_async_callable(handler), run_id
        )
        with self._lock:
            self._registrations.setdefault(event_type, []).append(registration)
            self._cache = {}
            self.quiet = False

    def remove(self, event_type: type[BaseEvent], handler: Callable[..., Any]) -> bool:
        with self._lock:
            registrations = self._registrations.get(event_type, [])
            kept = [r for r in registrations if r.handler != handler]
            if len(kept) == len(registrations):
                return False
            self._registrations[event_type] = kept
            self._cache = {}
            self.quiet = not any(self._registrations.values())
            return True

    def _lookup(self, cls: type) -> _Route:
        route = self._cache.get(cls)
        if route is None:
            with self._lock:
                found = sorted(
                    (
                        registration
                        for base in cls.__mro__
                        for registration in self._registrations.get(base, ())
                    ),
                    key=lambda r: r.order,
                )
                sync = [r for r in found if not r.is_async]
                async_ = [r for r in found if r.is_async]
                route = _Route(
                    sync,
                    async_,
                    any(r.run_id is not None for r in found),
                    bool(found),
                    tuple(r.handler for r in sync),
                    tuple(r.handler for r in async_),
                )
                self._cache[cls] = route
        return route

    def routes(self, event_type: type) -> bool:
        """Whether any handler is registered for events of *event_type*."""
        route = self._cache.get(event_type) or self._lookup(event_type)
        return route.any

    def handlers_for(self, event: Any) -> tuple[Sequence[SyncHandler], Sequence[AsyncHandler]]:
        """The sync and async handlers that *event* must reach, in registration order."""
        route = self._lookup(type(event))
        if not route.filtered:
            return route.sync_handlers, route.async_handlers
        run_id = event.run_id
        return (
            [r.handler for r in route.sync if r.run_id is None or r.run_id == run_id],
            [r.handler for r in route.async_ if r.run_id is None or r.run_id == run_id],
        )


class EventBus:
    """Registers event handlers and routes emitted events to them.

    There is one bus per process, ``anycrew.events.event_bus``.
    """

    def __init__(self) -> None:
        self._global = HandlerRegistry()
        self._scoped: ContextVar[HandlerRegistry | None] = ContextVar(
            "anycrew_scoped_handlers", default=None
        )

    def active_registry(self) -> HandlerRegistry:
        """The registry in force for the current context (scoped, else global)."""
        return self._scoped.get() or self._global

    def on(self, event_type: type[E], *, run_id: str | None = None) -> Callable[[H], H]:
        """Decorator: register the decorated ``handler(source, event)`` for *event_type*."""

        def decorator(handler: H) -> H:
            self.register_handler(event_type, handler, run_id=run_id)
            return handler

        return decorator

    def register_handler(
        self,
        event_type: type[E],
        handler: Callable[[Any, E], Any] | Callable[[Any, E], Awaitable[Any]],
        *,
        run_id: str | None = None,
    ) -> None:
        """Register ``handler(source, event)`` for *event_type* and its subclasses.

        Args:
            event_type: a BaseEvent subclass.
            handler: a sync or async callable taking the source and the event.
            run_id: if given, the handler only sees events of that run.

        Raises:
            TypeError: if *event_type* is not a BaseEvent subclass or *handler* is not callable.
        """
        if not (isinstance(event_type, type) and issubclass(event_type, BaseEvent)):
            raise TypeError(
                f"event_bus handlers register for BaseEvent subclasses, got {event_type!r}"
            )
        if not callable(handler):
            raise TypeError(
                f"event handler for {event_type.__name__} must be callable, got {handler!r}"
            )
        self.active_registry().add(event_type, handler, run_id)

    def off(self, event_type: type[BaseEvent], handler: Callable[..., Any]) -> None:
        """Unregister *handler* from *event_type* (a no-op if it was not registered)."""
        self.active_registry().remove(event_type, handler)

    @contextmanager
    def scoped_handlers(self) -> Iterator[None]:
        """Use a fresh, empty set of handlers inside the block (see the module docs)."""
        token = self._scoped.set(HandlerRegistry())
        try:
            yield
        finally:
            self._scoped.reset(token)

    def handlers_for(self, event: Any) -> tuple[Sequence[SyncHandler], Sequence[AsyncHandler]]:
        return self.active_registry().handlers_for(event)

    def emit(self, source: Any, event: BaseEvent) -> None:
        """Emit *event* from synchronous code.

        Inside a run, the event joins the run's stream (stamped now, delivered in
        order), also from the run's worker threads (sync tools, callbacks, sync
        handlers). Outside any run it is delivered at once: sync handlers are called
        in this thread and async handlers run on a private loop.

        Outside a run, in a thread that is running an event loop, async handlers run
        on a helper thread's loop while this call waits, and a warning says once
        that ``await event_bus.aemit()`` would serve better.
        """
        run = current_run()
        if run is not None:
            run.pipe.emit_nowait(source, event, current_parent_id())
            return
        if emit_from_thread(source, event):
            return
        sync, async_ = self.handlers_for(event)
        call_sync_handlers(sync, source, event)
        if async_:
            # On a private loop; in a thread already running one (sync code inside
            # an async app), on a helper thread, with a one-time warning to use aemit.
            run_blocking(
                call_async_handlers,
                async_,
                source,
                event,
                entry_name="event_bus.emit",
                async_name="event_bus.aemit",
            )

    async def aemit(self, source: Any, event: BaseEvent) -> None:
        """Emit *event* from async code: into the current run, or straight to the handlers."""
        run = current_run()
        if run is not None:
            await run.pipe.emit(source, event, current_parent_id())
            return
        sync, async_ = self.handlers_for(event)
        call_sync_handlers(sync, source, event)
        await call_async_handlers(async_, source, event)


#: The process-wide event bus.
event_bus = EventBus()
