"""chain: one crew of 10 sequential tasks, each one simulated call of ``latency``.

Figures: wall time, the ideal (10 x latency) and their ratio.
"""

from __future__ import annotations

import time

from ._common import INPUTS, Figure, Settings, build_crew

TASKS = 10


async def run(settings: Settings) -> list[Figure]:
    """The chain figures on the running backend."""
    crew = build_crew(1, TASKS, latency=settings.latency)
    started = time.perf_counter()
    await crew.akickoff(INPUTS)
    wall = time.perf_counter() - started
    ideal = TASKS * settings.latency
    figures = [
        Figure("chain", f"{TASKS} tasks wall", round(wall, 4), "s"),
        Figure("chain", f"{TASKS} tasks ideal", round(ideal, 4), "s"),
    ]
    if ideal:
        figures.append(
            Figure("chain", f"{TASKS} tasks ratio to ideal", round(wall / ideal, 3), "x")
        )
    return figures
