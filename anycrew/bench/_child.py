"""Running a benchmark child process and relaying its progress.

The children (one per backend, and each peer harness) print their figures as JSON
on stdout and progress lines (``[bench] ...``) on stderr. The parent relays the
progress lines through its own display and keeps the other stderr lines, to show
them if the child fails.
"""

from __future__ import annotations

import collections
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

from .progress import Progress

#: Non-progress stderr lines kept for the error message of a failed child.
TAIL = 30


class ChildFailed(RuntimeError):
    """A benchmark child exited with a non-zero status."""


def run_child(
    command: Sequence[str],
    progress: Progress,
    *,
    what: str,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run *command*, relay its progress lines, and return its stdout.

    Raises:
        ChildFailed: the child exited with a non-zero status; the message names
            *what* it was and ends with the last lines it wrote on stderr.
    """
    tail: collections.deque[str] = collections.deque(maxlen=TAIL)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        with subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=None if env is None else dict(env),
        ) as child:
            assert child.stderr is not None
            try:
                for line in child.stderr:
                    if not progress.relay(line):
                        tail.append(line.rstrip("\n"))
                status = child.wait()
            except BaseException:
                child.kill()  # interrupted: the child must not outlive the benchmark
                raise
        out.seek(0)
        stdout = out.read()
    if status != 0:
        detail = "\n".join(tail) or "(it wrote nothing on stderr)"
        raise ChildFailed(f"{what} failed (exit {status}); its last stderr lines:\n{detail}")
    return stdout
