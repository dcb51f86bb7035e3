"""The progress display of ``anycrew bench``: lines, a TTY status line, or silence."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anycrew.bench._child import ChildFailed, run_child
from anycrew.bench.progress import Progress

ROOT = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_modes() -> None:
    piped = io.StringIO()
    lines = Progress.for_terminal(quiet=False, stream=piped)
    assert lines.mode == "lines"
    lines.step("asyncio: overhead")
    lines.note("uvloop skipped")
    assert piped.getvalue() == "[bench] asyncio: overhead\n[bench] uvloop skipped\n"

    screen = Terminal()
    status = Progress.for_terminal(quiet=False, stream=screen)
    assert status.mode == "status"
    status.step("asyncio: overhead")
    status.step("asyncio: fanout")
    # One line rewritten in place: no newline until a note or the end.
    assert "\n" not in screen.getvalue()
    assert screen.getvalue().count("\r\x1b[K[bench] 0:00 ") == 2
    assert screen.getvalue().endswith("asyncio: fanout")
    status.note("uvloop skipped")
    assert screen.getvalue().endswith("\r\x1b[K[bench] uvloop skipped\n")
    status.step("trio: cancel")
    status.clear()
    assert screen.getvalue().endswith("trio: cancel\r\x1b[K")

    silent = io.StringIO()
    assert Progress.for_terminal(quiet=True, stream=Terminal()).mode == "quiet"
    quiet = Progress("quiet", silent)
    quiet.step("x")
    quiet.note("y")
    quiet.clear()
    assert silent.getvalue() == ""


def test_a_child_s_progress_is_relayed_and_its_failure_named() -> None:
    screen = io.StringIO()
    display = Progress("lines", screen)
    script = (
        "import sys\n"
        "print('[bench] trio: fanout', file=sys.stderr)\n"
        "print('some library warning', file=sys.stderr)\n"
        "print('{\"ok\": 1}')\n"
    )
    assert run_child([sys.executable, "-c", script], display, what="t") == '{"ok": 1}\n'
    assert screen.getvalue() == "[bench] trio: fanout\n"  # the warning is not relayed

    failing = script + "sys.exit(3)\n"
    with pytest.raises(ChildFailed, match=r"the trio child failed \(exit 3\)") as error:
        run_child([sys.executable, "-c", failing], display, what="the trio child")
    assert "some library warning" in str(error.value)  # shown when it matters


class Interrupted(Exception):
    pass


class InterruptingDisplay(Progress):
    """Raises (as a Ctrl-C would) once the child has said its pid."""

    def __init__(self) -> None:
        super().__init__("quiet")
        self.pid = 0

    def relay(self, line: str) -> bool:
        self.pid = int(line.split()[-1])
        raise Interrupted


@pytest.mark.timeout(30)
def test_an_interrupted_benchmark_leaves_no_child_behind() -> None:
    script = (
        "import os, sys, time\n"
        "print('[bench] pid', os.getpid(), file=sys.stderr, flush=True)\n"
        "time.sleep(600)\n"  # without the kill, the test times out waiting for it
    )
    display = InterruptingDisplay()
    with pytest.raises(Interrupted):
        run_child([sys.executable, "-c", script], display, what="sleeper")
    assert display.pid > 0
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left sleeping
        os.kill(display.pid, 0)


def bench(
    *args: str, command: tuple[str, ...] = ("anycrew", "bench")
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_json_to_stdout_is_silent_on_stderr() -> None:
    # python -m benchmarks is the same command as anycrew bench.
    args = ("chain", "--backend", "asyncio", "--latency", "0.001", "--json", "-")
    done = bench(*args, command=("benchmarks",))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    document = json.loads(done.stdout)  # stdout is the document and nothing else
    assert document["scenarios"] == ["chain"]
    assert {f["name"] for f in document["figures"]} >= {"10 tasks wall", "10 tasks ideal"}


def test_quiet_keeps_the_table_and_drops_the_progress() -> None:
    done = bench("chain", "--backend", "asyncio", "--latency", "0.001", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[0].split() == ["scenario", "figure", "unit", "asyncio"]

    loud = bench("chain", "--backend", "asyncio", "--latency", "0.001")
    assert loud.returncode == 0, loud.stderr
    assert "[bench] asyncio: chain" in loud.stderr
