"""A loopback HTTP/1.1 server for the provider tests: real sockets, scripted replies.

``async with serve(reply1, reply2, ...) as server`` listens on 127.0.0.1 (a free
port) and answers each request with the next scripted reply, an async function of
an :class:`Exchange` that writes the response: JSON, an event stream with real
chunked framing, a socket closed mid-way, or nothing at all. The server records
what it saw (requests, connections opened and closed, the most requests and
connections active at once) so tests can assert on the wire, not on our code.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

Reply = Callable[["Exchange"], Awaitable[None]]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}


@dataclass
class Request:
    """A request as the server parsed it off the wire."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Connection:
    """One accepted connection; ``closed`` is set when the client closes it."""

    id: int
    requests: int = 0
    closed: anyio.Event = field(default_factory=anyio.Event)


class _Closed(Exception):
    """The client went away."""


class Exchange:
    """The server's side of one request/response."""

    def __init__(
        self, stream: anyio.abc.ByteStream, request: Request, connection: Connection
    ) -> None:
        self.stream = stream
        self.request = request
        self.connection = connection
        self.keep_alive = True

    async def _send(self, data: bytes) -> None:
        try:
            await self.stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise _Closed from exc

    async def _head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        await self._send(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def send_body(
        self,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """A complete response with a Content-Length."""
        data = body.encode() if isinstance(body, str) else body
        head = {"Content-Type": content_type, "Content-Length": str(len(data))}
        await self._head(status, head | (headers or {}))
        await self._send(data)

    async def send_json(
        self, payload: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        await self.send_body(json.dumps(payload), status=status, headers=headers)

    async def start_stream(
        self, *, status: int = 200, content_type: str = "text/event-stream"
    ) -> None:
        """Response headers for a chunked body (as providers stream)."""
        await self._head(
            status,
            {
                "Content-Type": content_type,
                "Transfer-Encoding": "chunked",
                "Cache-Control": "no-cache",
            },
        )

    async def send_chunk(self, data: bytes | str) -> None:
        data = data.encode() if isinstance(data, str) else data
        if data:
            await self._send(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    async def send_event(self, data: Any, *, event: str | None = None) -> None:
        """One server-sent event in its own chunk; dicts are sent as JSON."""
        text = data if isinstance(data, str) else json.dumps(data)
        prefix = f"event: {event}\n" if event else ""
        await self.send_chunk(f"{prefix}data: {text}\n\n")

    async def end_stream(self) -> None:
        await self._send(b"0\r\n\r\n")

    async def abort(self) -> None:
        """Close the socket now, whatever was sent so far."""
        self.keep_alive = False
        await self.stream.aclose()

    async def wait_closed(self) -> None:
        """Wait until the client closes the connection (returns at once if it has)."""
        self.keep_alive = False
        try:
            while await self.stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass


def sse_reply(*events: Any, status: int = 200) -> Reply:
    """A reply streaming *events* (dicts as JSON data, ``(name, data)`` pairs as named)."""

    async def reply(exchange: Exchange) -> None:
        await exchange.start_stream(status=status)
        for item in events:
            if isinstance(item, tuple):
                await exchange.send_event(item[1], event=item[0])
            else:
                await exchange.send_event(item)
        await exchange.end_stream()

    return reply


def json_reply(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    async def reply(exchange: Exchange) -> None:
        await exchange.send_json(payload, status=status, headers=headers)

    return reply


class LoopbackServer:
    """What the server saw, and the replies it has left to give."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.default: Reply | None = None
        self.requests: list[Request] = []
        self.connections: list[Connection] = []
        self.active_requests = 0
        self.max_active_requests = 0
        self.active_connections = 0
        self.max_active_connections = 0
        self.request_arrived = anyio.Event()
        self.url = ""

    def add(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def _read_request(
        self, stream: anyio.abc.ByteStream, buffer: bytearray, connection: Connection
    ) -> Request | None:
        while b"\r\n\r\n" not in buffer:
            try:
                data = await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return None
            buffer += data
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        buffer[:] = rest
        first, *lines = head.decode("latin-1").split("\r\n")
        method, path, _version = first.split(" ", 2)
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            try:
                buffer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return None
        body, buffer[:] = bytes(buffer[:length]), buffer[length:]
        return Request(method, path, headers, body, connection.id)

    async def _handle(self, stream: anyio.abc.ByteStream) -> None:
        connection = Connection(id=len(self.connections))
        self.connections.append(connection)
        self.active_connections += 1
        self.max_active_connections = max(self.max_active_connections, self.active_connections)
        buffer = bytearray()
        try:
            async with stream:
                while True:
                    request = await self._read_request(stream, buffer, connection)
                    if request is None:
                        break
                    connection.requests += 1
                    self.requests.append(request)
                    self.request_arrived.set()
                    self.active_requests += 1
                    self.max_active_requests = max(self.max_active_requests, self.active_requests)
                    exchange = Exchange(stream, request, connection)
                    try:
                        await self._next_reply()(exchange)
                    except _Closed:
                        break
                    finally:
                        self.active_requests -= 1
                    if not exchange.keep_alive:
                        break
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self.active_connections -= 1
            connection.closed.set()

    def _next_reply(self) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if self.default is not None:
            return self.default
        return json_reply({"error": {"message": "no reply scripted"}}, status=500)


@asynccontextmanager
async def serve(*replies: Reply) -> AsyncIterator[LoopbackServer]:
    """Run a loopback server answering with *replies* in turn, for the block's duration."""
    server = LoopbackServer(list(replies))
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server.url = f"http://127.0.0.1:{port}"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server._handle)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()
