"""Smoke test of ``python -m anycrew bench``: every scenario, every backend, tiny sizes.

Nothing here is timed beyond the subprocess timeout; the figures are checked for
shape, and the counts that are behaviour (LLM calls started after a cancel, threads
and tasks left, events delivered) are checked exactly.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import anyio
import pytest

from anycrew.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"overhead", "fanout", "chain", "events", "cancel", "threads"}


def test_bench_all_scenarios_all_backends(tmp_path: Path) -> None:
    out, chart = tmp_path / "bench.json", tmp_path / "fanout.svg"
    args = ["-m", "anycrew", "bench", "--backend", "all", "--quick", "--n", "10"]
    completed = subprocess.run(
        [sys.executable, *args, "--json", str(out), "--plot", str(chart)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "[bench] trio: cancel" in completed.stderr  # progress goes to stderr

    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["benchmark"] == "anycrew bench"
    assert set(document["machine"]) >= {"cpus", "platform", "python", "anyio", "trio", "pydantic"}
    assert set(document["scenarios"]) == SCENARIOS
    assert document["settings"] == {
        "quick": True,
        "fanout_n": [10],
        "fanout_rounds": 1,
        "latency": 0.05,
    }
    backends = ["asyncio", "uvloop", "trio"]
    if importlib.util.find_spec("uvloop") is None:
        backends.remove("uvloop")
        assert any("uvloop" in note for note in document["notes"])
    assert document["backends"] == backends

    figures = document["figures"]
    for figure in figures:
        assert set(figure) == {"backend", "scenario", "name", "value", "unit"}
        assert isinstance(figure["value"], int | float), figure
    assert {(f["backend"], f["scenario"]) for f in figures} == {
        (backend, scenario) for backend in backends for scenario in SCENARIOS
    }
    by_key = {(f["backend"], f["scenario"], f["name"]): f["value"] for f in figures}
    for backend in backends:
        assert by_key[backend, "overhead", "1x1 events per kickoff"] == 8
        assert by_key[backend, "overhead", "3x3 events per kickoff"] == 20
        assert by_key[backend, "overhead", "flow 3 methods median"] > 0
        assert by_key[backend, "events", "events per run"] == 208
        assert by_key[backend, "fanout", "n=10 wall"] > 0
        # The stall ticker runs beside the bare tasks too (both sides of the ratio).
        assert by_key[backend, "fanout", "n=10 max loop stall, bare tasks"] > 0
        for entry in ("akickoff x20", "kickoff_async x5"):
            assert by_key[backend, "cancel", f"{entry} LLM calls started after cancel"] == 0
            assert by_key[backend, "cancel", f"{entry} LLM calls in flight at cancel"] > 0
            assert by_key[backend, "cancel", f"{entry} threads left"] == 0
            if backend != "trio":
                assert by_key[backend, "cancel", f"{entry} tasks left"] == 0

    # The table on stdout: a header, a rule, one row per (scenario, figure), the notes.
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["scenario", "figure", "unit", *backends]
    rows = len({(f["scenario"], f["name"]) for f in figures})
    assert lines[2 + rows :] == [f"note: {note}" for note in document["notes"]]

    # The chart: per backend a wall series and a dashed floor, each with its point.
    series = [
        group
        for group in ET.parse(chart).getroot().iter("{http://www.w3.org/2000/svg}g")
        if group.get("class") == "series"
    ]
    assert [(g.get("data-backend"), g.get("data-kind")) for g in series] == [
        (backend, kind) for backend in backends for kind in ("wall", "floor")
    ]
    for group in series:
        (point,) = group.iter("{http://www.w3.org/2000/svg}circle")
        kind = "wall" if group.get("data-kind") == "wall" else "floor (bare anyio sleeps)"
        value = by_key[group.get("data-backend"), "fanout", f"n=10 {kind}"]
        assert (point.get("data-n"), float(point.get("data-seconds", "0"))) == ("10", value)
    assert f"chart of {len(series)} series written to {chart}" in document["notes"]


def test_bench_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    assert main(["nonsense"]) == 2
    assert "unknown command 'nonsense'" in capsys.readouterr().err


@pytest.mark.anyio
async def test_the_cancel_scenario_counts_busy_threads_not_idle_pool_ones() -> None:
    from anycrew.bench.cancel import busy_thread_idents

    pool_thread = await anyio.to_thread.run_sync(threading.get_ident)
    # The pool thread goes back to waiting for work shortly after its job: from then
    # on it is idle (a bounded wait for that, as the scenario's own settle does).
    deadline = time.monotonic() + 5
    while pool_thread in busy_thread_idents() and time.monotonic() < deadline:
        await anyio.sleep(0.01)
    assert pool_thread not in busy_thread_idents()
    release = threading.Event()
    worker = threading.Thread(target=release.wait)  # a thread still doing something
    worker.start()
    try:
        assert worker.ident in busy_thread_idents()
    finally:
        release.set()
        worker.join()
    assert worker.ident not in busy_thread_idents()
