"""What the benchmark is doing, on stderr, while it runs.

Three modes: ``lines`` prints one ``[bench] ...`` line per step (stderr is a pipe or
a file, so a log stays readable); ``status`` keeps one line that is rewritten in
place, with the time elapsed (stderr is a terminal); ``quiet`` prints nothing
(``--quiet``, or ``--json -`` where stdout carries the document).

Child processes (one per backend, and the peer harnesses) always print ``lines``;
the parent reads their stderr and relays each progress line through its own
``Progress``, so only one process ever draws on the terminal.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Literal, TextIO

Mode = Literal["quiet", "lines", "status"]

#: What starts a progress line; the parent recognises a child's lines by it.
PREFIX = "[bench] "


class Progress:
    """Reports benchmark steps on a text stream (default: stderr).

    Args:
        mode: ``"lines"``, ``"status"`` or ``"quiet"`` (see the module's docstring).
        stream: where to write; ``None`` means ``sys.stderr`` at each write.
    """

    def __init__(self, mode: Mode, stream: TextIO | None = None) -> None:
        self.mode: Mode = mode
        self._stream = stream
        self._started = time.monotonic()
        self._shown = False  # a status line is on screen

    @classmethod
    def for_terminal(cls, *, quiet: bool, stream: TextIO | None = None) -> Progress:
        """``quiet`` if asked, ``status`` when *stream* (stderr) is a terminal, else ``lines``."""
        if quiet:
            return cls("quiet", stream)
        target = stream if stream is not None else sys.stderr
        isatty = getattr(target, "isatty", None)
        return cls("status" if isatty is not None and isatty() else "lines", stream)

    @property
    def stream(self) -> TextIO:
        """The stream written to."""
        return self._stream if self._stream is not None else sys.stderr

    def step(self, message: str) -> None:
        """Report that *message* is now under way."""
        if self.mode == "quiet":
            return
        if self.mode == "lines":
            print(f"{PREFIX}{message}", file=self.stream, flush=True)
            return
        elapsed = int(time.monotonic() - self._started)
        text = f"{PREFIX}{elapsed // 60}:{elapsed % 60:02d} {message}"
        width = shutil.get_terminal_size((80, 24)).columns - 1
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._shown = True

    def note(self, message: str) -> None:
        """A line that stays (a skipped backend, a warning), in every mode but quiet."""
        if self.mode == "quiet":
            return
        self.clear()
        print(f"{PREFIX}{message}", file=self.stream, flush=True)

    def clear(self) -> None:
        """Erase the status line, if one is shown, so other output starts clean."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def relay(self, line: str) -> bool:
        """Show a child's stderr *line* if it is a progress line; whether it was one."""
        if not line.startswith(PREFIX):
            return False
        self.step(line[len(PREFIX) :].rstrip("\n"))
        return True


_current = Progress("lines")


def current() -> Progress:
    """The progress reporter the scenarios report to."""
    return _current


def use(progress: Progress) -> None:
    """Make *progress* the reporter the scenarios report to."""
    global _current
    _current = progress
