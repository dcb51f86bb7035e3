"""Pooled httpx clients: one per endpoint configuration and event loop, closed with it.

The ``httpx.AsyncClient`` shards of a :class:`_Pool` serve every request to an
:class:`Endpoint` (base URL, timeout, concurrency, non-secret headers) within one
event loop, kept in an ``anyio.lowlevel.RunVar`` and speaking HTTP/1.1 with
keep-alive. Next to them an
``anyio.CapacityLimiter`` of ``max_concurrency`` tokens bounds the requests in
flight, and ``httpx.Limits`` of the same size bounds the connections, so a thousand
concurrent crews queue on the limiter (which has no deadline) rather than opening a
thousand sockets or running into httpx's pool timeout.

Closing the clients with their loop: anyio offers no "the loop is closing" hook (a
RunVar scopes a value to a loop but never finalises it). What both backends do
offer is the finalisation of async generators still alive when a run ends:
``asyncio.run``, ``asyncio.Runner`` and ``anyio.run`` call
``loop.shutdown_asyncgens()``, and ``trio.run`` closes the remaining ones itself.
So the first use in a loop parks a small async generator at its ``yield``; when the
run ends, its ``finally`` closes that loop's clients and their keep-alive
connections, with no ResourceWarning. A loop closed by hand without that step
leaves the sockets to the garbage collector (and Python warns);
:func:`aclose_clients` closes them explicitly.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import anyio
import anyio.lowlevel
import httpx

DEFAULT_TIMEOUT = 600.0
DEFAULT_MAX_CONCURRENCY = 50
CONNECT_TIMEOUT = 10.0
_CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A provider configuration: requests with equal endpoints share a client and a limiter.

    *headers* holds only non-secret headers (credentials go on each request).
    """

    base_url: str
    timeout: float = DEFAULT_TIMEOUT
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    headers: tuple[tuple[str, str], ...] = ()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds; without sharing one context,
    # every event loop (each sync kickoff runs its own) would pay it per endpoint.
    # An SSLContext may be shared across threads and loops.
    return httpx.create_ssl_context()


#: Connections per httpx client. httpcore's pool rescans every connection for every
#: request it queues or releases, so one pool of 50 spends more time scanning than
#: talking; several pools of at most this size, filled least-busy first, do not.
SHARD_SIZE = 10


class _Pool:
    """The endpoint's clients (shards of at most :data:`SHARD_SIZE` connections) and
    the limiter in front of them.

    The limiter admits at most ``max_concurrency`` requests, the shards' connections
    add up to the same number, and each request goes to the shard with the most
    room, so no shard ever queues a request of its own.
    """

    __slots__ = ("clients", "in_flight", "limiter", "sizes")

    def __init__(self, endpoint: Endpoint) -> None:
        total = endpoint.max_concurrency
        self.sizes = [min(SHARD_SIZE, total - start) for start in range(0, total, SHARD_SIZE)]
        self.clients = [
            httpx.AsyncClient(
                base_url=endpoint.base_url,
                headers=dict(endpoint.headers),
                verify=_ssl_context(),
                timeout=httpx.Timeout(
                    endpoint.timeout, connect=min(endpoint.timeout, CONNECT_TIMEOUT)
                ),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for size in self.sizes
        ]
        self.in_flight = [0] * len(self.clients)
        self.limiter = anyio.CapacityLimiter(total)

    def take(self) -> int:
        """The index of the shard with the most room (the first, on ties); now busier."""
        index = max(range(len(self.sizes)), key=lambda i: self.sizes[i] - self.in_flight[i])
        self.in_flight[index] += 1
        return index

    def give_back(self, index: int) -> None:
        self.in_flight[index] -= 1


class _LoopClients:
    """The pools of one event loop, and the generator that closes them with it."""

    def __init__(self) -> None:
        self.pools: dict[Endpoint, _Pool] = {}
        self.closer: AsyncGenerator[None, None] | None = None

    async def aclose(self) -> None:
        pools, self.pools = list(self.pools.values()), {}
        # Shielded: trio finalises async generators inside a cancelled scope.
        with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
            for pool in pools:
                for client in pool.clients:
                    await client.aclose()


_loop_clients: anyio.lowlevel.RunVar[_LoopClients] = anyio.lowlevel.RunVar("anycrew_http")


async def _close_with_loop(clients: _LoopClients) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await clients.aclose()


async def pool_for(endpoint: Endpoint) -> _Pool:
    clients = _loop_clients.get(None)
    if clients is None:
        clients = _LoopClients()
        _loop_clients.set(clients)
        clients.closer = _close_with_loop(clients)
        # The first step registers the generator with the loop's finaliser hooks.
        await clients.closer.asend(None)
    pool = clients.pools.get(endpoint)
    if pool is None:
        pool = clients.pools[endpoint] = _Pool(endpoint)
    return pool


async def aclose_clients() -> None:
    """Close the current event loop's pooled clients now (later calls open new ones).

    Loops run by ``anyio.run``, ``asyncio.run`` or ``trio.run`` close them by
    themselves at the end; this is for loops driven and closed by hand.
    """
    clients = _loop_clients.get(None)
    if clients is not None:
        await clients.aclose()


class BodyReader:
    """Reads a streamed body, leaving httpx's generator chain finished whatever happens.

    ``aiter_bytes()`` sits on a stack of async generators (httpx's and httpcore's).
    Closing only the outermost one leaves the inner ones suspended, and trio warns
    when those are garbage collected. So :meth:`aclose` never abandons the chain: it
    reads on, within a deadline. A body that ends in time leaves its connection
    reusable; otherwise the deadline's cancellation is raised inside the innermost
    read, runs out through every generator, finishes them all, and makes httpcore
    drop the half-read connection.
    """

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_bytes()
        self._finished = False

    async def next(self) -> bytes | None:
        """The next piece of the body, or ``None`` at its end."""
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            self._finished = True
            return None
        except BaseException:
            self._finished = True  # it came out through the generators: they are done
            raise

    async def aclose(self, grace: float = 0.0) -> None:
        """Read to the end of the body within *grace* seconds (0: stop at once)."""
        if self._finished:
            return
        self._finished = True
        with anyio.move_on_after(grace), contextlib.suppress(httpx.HTTPError):
            async for _ in self._chunks:
                pass


async def close_response(response: httpx.Response) -> None:
    """Close *response*, even inside a cancelled scope, within a bound."""
    with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
        await response.aclose()
