"""Smoke test of benchmarks/overhead.py: it runs and prints a well-formed JSON line.

Nothing here is timed; the numbers are only checked for shape and sign.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "overhead.py"

# A kickoff emits CrewKickoffStarted/Completed plus, per task, Task-, AgentExecution- and
# LLMCall- Started/Completed: 2 + 6 * tasks.
EXPECTED_EVENTS = {"1x1": 8, "3x3": 20}


def test_overhead_script_prints_one_json_line(tmp_path: Path) -> None:
    out_file = tmp_path / "overhead.json"
    args = ["--repeat", "5", "--warmup", "1", "--backend", "all", "--json", str(out_file)]
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr

    lines = completed.stdout.splitlines()
    assert len(lines) == 1, completed.stdout
    document = json.loads(lines[0])
    assert json.loads(out_file.read_text(encoding="utf-8")) == document

    for key in ("benchmark", "python", "anyio", "trio", "machine", "repeat", "results"):
        assert key in document
    assert document["benchmark"] == "overhead"
    assert document["repeat"] == 5
    assert set(document["machine"]) >= {"cpus", "platform"}

    backends = ["asyncio", "trio"]
    if importlib.util.find_spec("uvloop") is not None:
        backends.append("uvloop")
    else:
        assert any("uvloop" in note for note in document["notes"])
    expected = {(backend, scenario) for backend in backends for scenario in EXPECTED_EVENTS}
    results = document["results"]
    assert len(results) == len(expected)
    assert {(r["backend"], r["scenario"]) for r in results} == expected

    for result in results:
        for key in ("median_us", "p99_us", "baseline_median_us"):
            value = result[key]
            assert isinstance(value, int | float), (key, value)
            assert value > 0, (key, result)
        assert result["p99_us"] >= result["median_us"]
        assert result["events_per_kickoff"] == EXPECTED_EVENTS[result["scenario"]], result


def test_streaming_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "streaming.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "streaming.py"),
            "--backend",
            "all",
            "--chunks",
            "200",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document == json.loads(out.read_text())
    assert document["benchmark"] == "streaming"
    backends = {row["backend"] for row in document["results"]}
    assert {"asyncio", "trio"} <= backends
    for row in document["results"]:
        assert row["way"] in {"bare", "astream", "bus_1", "bus_6"}
        assert row["events"] == 208  # 200 chunks plus the crew's 8 lifecycle and call events
        assert row["events_per_s"] > 0


def test_flow_benchmark_smoke() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "flow.py"),
            "--backend",
            "all",
            "--repeat",
            "5",
            "--warmup",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["benchmark"] == "flow"
    rows = {(row["backend"], row["flow"]) for row in document["results"]}
    assert {
        ("asyncio", "plain"),
        ("asyncio", "persist"),
        ("trio", "plain"),
        ("trio", "persist"),
    } <= rows
    assert all(row["median_us"] > 0 for row in document["results"])
