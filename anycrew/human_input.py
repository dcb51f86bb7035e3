"""Human input: who reviews a task's answer when the task has ``human_input=True``.

After the agent's final answer (and its guardrails), the run asks the current
*provider* for feedback on it. Empty feedback (``""``, whitespace or ``None``) accepts
the answer; anything else goes back to the agent, which revises its answer, and the
provider is asked again, at most :data:`MAX_FEEDBACK_ROUNDS` times per task.

A provider is any callable taking a :class:`HumanFeedbackRequest` and returning the
feedback, sync or async. Async providers are awaited on the run's loop and are
cancelled with the run; sync ones run in a worker thread, so they never block the
event loop (and learn of a cancellation through ``anycrew.checkpoint()``).

Which provider answers, first match wins:

* the one installed with ``with use_provider(p):`` in the current context (it reaches
  ``akickoff``, ``kickoff`` and ``kickoff_async`` started inside the block);
* the process-wide one set with :func:`set_provider`;
* :class:`ConsoleInput`, which prints the answer and reads one line from stdin.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, TypeAlias

import anyio.from_thread

from . import runtime
from .tasks.task_output import TaskOutput

__all__ = [
    "MAX_FEEDBACK_ROUNDS",
    "ConsoleInput",
    "HumanFeedbackRequest",
    "HumanInputProvider",
    "current_provider",
    "set_provider",
    "use_provider",
]

#: How many revisions human feedback can ask for on one task; after that many, the
#: last revision is kept without asking again.
MAX_FEEDBACK_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class HumanFeedbackRequest:
    """What a provider is asked to review.

    Attributes:
        task_name: the task's name (or the start of its description).
        agent_role: the role of the agent that answered.
        output: the answer to review.
        round: 0 for the first answer, then 1, 2, ... for each revision.
    """

    task_name: str
    agent_role: str
    output: TaskOutput
    round: int


HumanInputProvider: TypeAlias = Callable[[HumanFeedbackRequest], str | Awaitable[str | None] | None]
"""A callable that takes a :class:`HumanFeedbackRequest` and returns the feedback
(sync or async); empty feedback or ``None`` accepts the answer."""

_POLL_SECONDS = 0.1


class ConsoleInput:
    """The default provider: shows the answer and reads one line of feedback.

    It runs in a worker thread. Where the input stream is a real file descriptor
    (a terminal, a pipe; not on Windows) it waits for it in short polls and stops
    within about 0.1 s of the run being cancelled. Otherwise (an in-memory stream,
    Windows) it blocks in ``readline()``, and a cancelled run waits until a line (or
    end of input) arrives: a thread cannot be interrupted.

    Args:
        stdin: where to read the feedback (default ``sys.stdin``).
        stdout: where to show the answer (default ``sys.stdout``).
    """

    def __init__(self, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> None:
        self._stdin = stdin
        self._stdout = stdout

    def __call__(self, request: HumanFeedbackRequest) -> str:
        stdout = self._stdout or sys.stdout
        stdin = self._stdin or sys.stdin
        # One question at a time: concurrent tasks with human input would otherwise
        # interleave their prompts and race for the same line.
        while not _CONSOLE.acquire(timeout=_POLL_SECONDS):
            with contextlib.suppress(RuntimeError):  # RuntimeError: not in a worker thread
                anyio.from_thread.check_cancelled()
        try:
            stdout.write(
                f"\n## Answer to task {request.task_name!r} by {request.agent_role!r}:\n"
                f"{request.output.raw}\n\n"
                "## Feedback for a revision (press Enter to accept the answer): "
            )
            stdout.flush()
            return _read_line(stdin).strip()
        finally:
            _CONSOLE.release()


_CONSOLE = threading.Lock()


def _read_line(stream: IO[str]) -> str:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = -1
    if fd < 0 or os.name == "nt":
        return stream.readline()
    # Byte by byte from the descriptor, so that nothing past the line is read ahead
    # into a buffer that select() cannot see.
    line = bytearray()
    while True:
        ready, _, _ = select.select([fd], [], [], _POLL_SECONDS)
        if not ready:
            with contextlib.suppress(RuntimeError):  # RuntimeError: not in a worker thread
                anyio.from_thread.check_cancelled()
            continue
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":
            return line.decode(getattr(stream, "encoding", None) or "utf-8", errors="replace")
        line += byte


_global_provider: HumanInputProvider | None = None
_provider: ContextVar[HumanInputProvider | None] = ContextVar(
    "anycrew_human_input_provider", default=None
)
# Stream sessions and kickoff() from a thread running a loop run on loops of their
# own: use_provider() reaches them too.
runtime.carry_into_helper_threads(_provider)


def set_provider(provider: HumanInputProvider | None) -> None:
    """Make *provider* the process-wide default (``None`` restores the console).

    Raises:
        TypeError: if *provider* is not callable.
    """
    global _global_provider
    _check(provider)
    _global_provider = provider


@contextlib.contextmanager
def use_provider(provider: HumanInputProvider) -> Iterator[HumanInputProvider]:
    """Let *provider* answer every human-input request of kickoffs started inside the block.

    Raises:
        TypeError: if *provider* is not callable.
    """
    _check(provider)
    token = _provider.set(provider)
    try:
        yield provider
    finally:
        _provider.reset(token)


def current_provider() -> HumanInputProvider:
    """The provider a request made here would go to (see the module's docs)."""
    return _provider.get() or _global_provider or ConsoleInput()


def _check(provider: object) -> None:
    if provider is not None and not callable(provider):
        raise TypeError(
            f"a human input provider must be callable (request -> feedback), got {provider!r}"
        )
