"""The default feedback provider: the console."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import anyio.to_thread

from .types import PendingFeedbackContext

if TYPE_CHECKING:
    from ..flow import Flow


class ConsoleProvider:
    """Ask on the terminal: print the output and the message, read one line.

    The line is read without blocking the event loop: on POSIX the provider waits
    for standard input to become readable (a cancelled flow stops waiting at once);
    where that is not possible (Windows, a replaced ``sys.stdin``) it reads in a
    worker thread, and a cancelled flow waits for that line. An empty line (or the
    end of input) is empty feedback.

    Args:
        stdin: where to read; ``None`` means ``sys.stdin`` at call time.
        stdout: where to write; ``None`` means ``sys.stdout`` at call time.
    """

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._stdin = stdin
        self._stdout = stdout

    async def request_feedback(self, context: PendingFeedbackContext, flow: Flow[Any]) -> str:
        """Show ``context.method_output`` and ``context.message``; return the line typed."""
        stdin = self._stdin if self._stdin is not None else sys.stdin
        stdout = self._stdout if self._stdout is not None else sys.stdout
        stdout.write(
            f"\n{flow.name}.{context.method_name} produced:\n{context.method_output}\n\n"
            f"{context.message}\n(press Enter to skip) > "
        )
        stdout.flush()
        try:
            fileno = stdin.fileno()
        except (AttributeError, OSError, ValueError):
            fileno = None
        if fileno is not None and sys.platform != "win32":
            await anyio.wait_readable(fileno)
            return stdin.readline().strip()
        line: str = await anyio.to_thread.run_sync(stdin.readline)
        return line.strip()
