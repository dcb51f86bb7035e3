"""The README's examples and the demo run, and print what the README says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    # The examples run with anycrew's defaults: no model set, kickoffs storing their
    # task outputs (under the suite's temporary ANYCREW_STORAGE_DIR).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANYCREW_MODEL", "ANYCREW_STORE_TASK_OUTPUTS")
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _promised(code: str) -> list[str]:
    """The lines the README promises with ``print(...)  # -> <output>`` comments."""
    return re.findall(r"^\s*print\(.*\)\s+# -> (.+)$", code, re.MULTILINE)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 5
    assert sum(len(_promised(code)) for code in BLOCKS) >= 8


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str) -> None:
    result = _run(code)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    for promise in _promised(code):
        assert promise in printed, (promise, result.stdout)


def test_demo_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "kickoff_async gives the same answer: True" in result.stdout
    assert "last events: agent_execution_cancelled, task_cancelled, crew_kickoff_cancelled" in (
        result.stdout
    )
    assert "LLM calls started: 1" in result.stdout
