"""The async-kickoff examples of CrewAI's reference pages run on anycrew's simulator.

Each script in examples/async_kickoff/ runs in a subprocess without ANYCREW_MODEL, so
its agents fall back to the offline simulator, whose answer names the task: "Simulated
answer to: <first line of the task description, inputs interpolated>". Every expected
result line is checked whole, which also checks that results come back in order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "async_kickoff"

AGES_1 = "[25, 30, 35, 40, 45]"
AGES_2 = "[20, 22, 24, 28, 30]"
AGES_3 = "[30, 35, 40, 45, 50]"


def answer(description: str) -> str:
    return f"Simulated answer to: {description}"


SINGLE = [
    "Crew Result: "
    + answer(
        f"Analyze the given dataset and calculate the average age of participants. Ages: {AGES_1}"
    )
]
AKICKOFF_GATHER = [
    "Crew 1 Result: "
    + answer(f"Analyze the first dataset and calculate the average age. Ages: {AGES_1}"),
    "Crew 2 Result: "
    + answer(f"Analyze the second dataset and calculate the average age. Ages: {AGES_2}"),
]
FOR_EACH = [
    f"Dataset {i} Result: "
    + answer(f"Analyze the dataset and calculate the average age. Ages: {ages}")
    for i, ages in enumerate([AGES_1, AGES_2, AGES_3], 1)
]
KICKOFF_ASYNC_GATHER = [
    "Crew 1 Result: "
    + answer(
        f"Analyze the first dataset and calculate the average age of participants. Ages: {AGES_1}"
    ),
    "Crew 2 Result: "
    + answer(
        f"Analyze the second dataset and calculate the average age of participants. Ages: {AGES_2}"
    ),
]

CASES = {
    "akickoff": SINGLE,
    "akickoff_gather": AKICKOFF_GATHER,
    "akickoff_for_each": FOR_EACH,
    "kickoff_async": SINGLE,
    "kickoff_async_gather": KICKOFF_ASYNC_GATHER,
}
PARAMS = [
    pytest.param(f"{prefix}{name}.py", expected, id=f"{prefix}{name}")
    for prefix in ("", "trio_")
    for name, expected in CASES.items()
]


def run_example(script: str) -> subprocess.CompletedProcess[str]:
    """Run one example script as a user would, without ANYCREW_MODEL set."""
    env = {key: value for key, value in os.environ.items() if key != "ANYCREW_MODEL"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize(("script", "expected"), PARAMS)
def test_example_runs_on_the_simulator(script: str, expected: list[str]) -> None:
    proc = run_example(script)
    result_lines = [line for line in proc.stdout.splitlines() if " Result: " in line]
    assert result_lines == expected, proc.stdout
    assert proc.stderr.count("offline simulator") == 1, proc.stderr


@pytest.mark.parametrize("script", ["akickoff_streaming.py", "trio_akickoff_streaming.py"])
def test_streaming_example_prints_chunks_then_the_result(script: str) -> None:
    proc = run_example(script)
    final = answer("Research the topic: AI trends in 2024")
    printed, last = proc.stdout.rsplit("Final result: ", 1)
    assert last == f"{final}\n"
    # Each print() added a newline after the chunk's own text.
    chunks = [part.removesuffix("\n") for part in printed.split("Chunk: ")[1:]]
    assert len(chunks) > 5
    assert "".join(chunks).endswith(f"Final Answer: {final}")
