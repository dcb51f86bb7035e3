"""``--compare crewai``: the same scenarios on CrewAI, side by side with anycrew.

CrewAI lives in a virtual environment of its own (``make bench-peers`` creates
``.venv-peers``); its harness (``peers/crewai_harness.py``) runs there in its own
process and prints its figures as JSON. This module finds that environment, runs
the harness, and pairs its figures with anycrew's by (scenario, name).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._child import run_child
from ._common import Figure
from .peers import crewai_harness
from .progress import Progress

PEERS = ("crewai",)
DEFAULT_VENV = ".venv-peers"
HARNESS = Path(crewai_harness.__file__)
#: The scenarios the CrewAI harness runs, and its largest fanout N.
PEER_SCENARIOS = crewai_harness.SCENARIOS
MAX_PEER_N = crewai_harness.MAX_FANOUT_N


@dataclass(frozen=True)
class PeerRun:
    """What a peer harness reported."""

    system: str
    version: str | None
    figures: list[Figure]
    document: dict[str, Any]


def peer_python(venv: str | os.PathLike[str]) -> Path:
    """The interpreter of the peer environment *venv*."""
    scripts = "Scripts" if sys.platform == "win32" else "bin"
    name = "python.exe" if sys.platform == "win32" else "python"
    return Path(venv) / scripts / name


def check_venv(venv: str | os.PathLike[str]) -> str | None:
    """Why --compare crewai cannot run with *venv* (no interpreter there), or None."""
    if peer_python(venv).is_file():
        return None
    return (
        f"--compare crewai runs CrewAI from its own virtual environment, and {str(venv)!r} "
        "has none: run `make bench-peers` (creates .venv-peers and installs crewai there; "
        "it is large and never a dependency of anycrew), or pass --peers-venv PATH"
    )


def peer_env() -> dict[str, str]:
    """The harness's environment: ours plus CrewAI's telemetry opt-outs."""
    env = dict(os.environ)
    env.update(crewai_harness.TELEMETRY_OPT_OUTS)
    env.pop("PYTHONPATH", None)  # the peer must not see anycrew's packages
    return env


def harness_args(
    scenarios: Sequence[str], ns: Sequence[int], latency: float, quick: bool
) -> list[str] | None:
    """The harness's arguments for what anycrew runs, or None if none of it applies."""
    chosen = [name for name in PEER_SCENARIOS if name in scenarios]
    peer_ns = [n for n in ns if n <= MAX_PEER_N]
    if "fanout" in chosen and not peer_ns:
        chosen.remove("fanout")
    if not chosen:
        return None
    args = [*chosen, "--latency", repr(latency)]
    if peer_ns:
        args += ["--n", *map(str, peer_ns)]
    return [*args, "--quick"] if quick else args


def run_peer(venv: str | os.PathLike[str], args: Sequence[str], progress: Progress) -> PeerRun:
    """Run the CrewAI harness with *args* in *venv*; its figures."""
    command = [str(peer_python(venv)), str(HARNESS), *args]
    stdout = run_child(command, progress, what="the CrewAI harness", env=peer_env())
    document = json.loads(stdout)
    figures = [Figure(**item) for item in document.pop("figures")]
    return PeerRun("crewai", document.get("version"), figures, document)


def measure_import() -> float:
    """Milliseconds to ``import anycrew`` in a fresh interpreter (after its start)."""
    code = "import time; t = time.perf_counter(); import anycrew; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return round(float(done.stdout) * 1000, 1)


def comparison_rows(ours: Sequence[Figure], peer: PeerRun, backend: str) -> list[dict[str, Any]]:
    """One row per peer figure that anycrew measured too, on *backend*.

    Each row: scenario, name, unit, ``anycrew`` (the value on *backend*),
    the peer's value under its system name, and ``ratio`` = peer / anycrew
    (None where anycrew's value is 0).
    """
    mine = {(f.scenario, f.name): f.value for f in ours if f.backend == backend}
    rows = []
    for figure in peer.figures:
        value = mine.get((figure.scenario, figure.name))
        if value is None:
            continue
        rows.append(
            {
                "scenario": figure.scenario,
                "name": figure.name,
                "unit": figure.unit,
                "anycrew_backend": backend,
                "anycrew": value,
                peer.system: figure.value,
                "ratio": round(figure.value / value, 2) if value else None,
            }
        )
    return rows


def comparison_table(rows: Sequence[dict[str, Any]], system: str, backend: str) -> str:
    """The side-by-side table: anycrew (on *backend*), the peer, and the ratio."""
    from .runner import format_value

    header = ["scenario", "figure", "unit", f"anycrew ({backend})", system, f"{system}/anycrew"]
    lines = [header] + [
        [
            row["scenario"],
            row["name"],
            row["unit"],
            format_value(row["anycrew"]),
            format_value(row[system]),
            "-" if row["ratio"] is None else f"{row['ratio']:g}x",
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for position, line in enumerate(lines):
        cells = [
            cell.ljust(width) if i < 3 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if position == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)
