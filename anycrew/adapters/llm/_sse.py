"""An incremental decoder for server-sent events (the ``text/event-stream`` format).

Providers stream replies as server-sent events. The decoder takes the body's bytes
in whatever pieces the network delivers and returns complete events, following the
WHATWG parsing rules: lines end with CRLF, LF or CR (a CRLF may be split across two
pieces), a leading byte-order mark is dropped, lines starting with ``:`` are
comments, ``data:`` lines accumulate (joined with newlines), an empty line
dispatches the event, and an event cut off by the end of the stream is dropped.
Sentinels such as OpenAI's ``[DONE]`` are ordinary data here; the caller decides.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event.

    Attributes:
        data: the data lines, joined with newlines.
        event: the event type (``"message"`` when the stream named none).
        id: the last event id the stream set, if any.
        retry: the reconnection time in milliseconds the event set, if any.
    """

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turns chunks of an event-stream body into :class:`ServerSentEvent` objects."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        self._skip_lf = False
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode *chunk* and return the events it completes, in order."""
        text = self._text.decode(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix(_BOM)
        if self._skip_lf:
            # The previous piece ended with CR: a LF here is the rest of that CRLF.
            self._skip_lf = False
            text = text.removeprefix("\n")
        buffer = self._buffer + text
        events: list[ServerSentEvent] = []
        start = 0
        for match in _EOL.finditer(buffer):
            event = self._line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
            if match.group() == "\r" and start == len(buffer):
                self._skip_lf = True
        self._buffer = buffer[start:]
        return events

    def close(self) -> None:
        """End of stream: drop any half-received event, as the format requires."""
        self._text.decode(b"", final=True)
        self._buffer = ""
        self._reset_event()

    def _reset_event(self) -> None:
        self._data = []
        self._has_data = False
        self._event = ""
        self._retry = None

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._has_data = True
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._has_data:
            # An event with no data lines is not dispatched, but resets its fields.
            self._reset_event()
            return None
        event = ServerSentEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._last_id,
            retry=self._retry,
        )
        self._reset_event()
        return event
