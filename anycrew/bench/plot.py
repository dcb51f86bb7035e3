"""``--plot PATH``: fanout wall time against N as a self-contained SVG chart.

One solid series per (system, backend) from the ``n=N wall`` figures, and one
dashed series per floor (``n=N floor ...``: bare anyio sleeps in anycrew's
process, bare asyncio sleeps in a peer's). Both axes are log-10: N, and seconds,
which span decades once a slower peer is compared. Written by hand (no plotting
library): each series is a ``<g class="series">`` with ``data-system``,
``data-backend`` and ``data-kind`` (``wall`` or ``floor``) holding a polyline and
one ``<circle>`` per point with ``data-n`` and ``data-seconds``, so the chart is
also machine-readable. A floor has the colour of its system's wall series.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ._common import Figure

WIDTH, HEIGHT = 840, 460
LEFT, RIGHT, TOP, BOTTOM = 70, 270, 50, 60
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_NAME = re.compile(r"^n=(\d+) (wall|floor\b.*)$")


@dataclass(frozen=True)
class Series:
    """One line of the chart: (N, seconds) points, ascending in N."""

    system: str
    backend: str
    kind: str  # "wall" or "floor"
    points: tuple[tuple[int, float], ...]

    @property
    def label(self) -> str:
        """The legend's text."""
        if self.kind == "floor":
            bare = "anyio" if self.system == "anycrew" else "asyncio"
            return f"{self.system} {self.backend} floor (bare {bare})"
        return f"{self.system} {self.backend}"


def fanout_series(systems: Mapping[str, Sequence[Figure]]) -> list[Series]:
    """The wall and floor series of every system's fanout figures (system -> figures)."""
    series = []
    for system, figures in systems.items():
        found: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for figure in figures:
            match = _NAME.match(figure.name) if figure.scenario == "fanout" else None
            if match:
                kind = "wall" if match.group(2) == "wall" else "floor"
                found.setdefault((figure.backend, kind), []).append(
                    (int(match.group(1)), float(figure.value))
                )
        for backend in dict.fromkeys(backend for backend, _ in found):  # in the order met
            for kind in ("wall", "floor"):
                if (backend, kind) in found:
                    points = tuple(sorted(found[backend, kind]))
                    series.append(Series(system, backend, kind, points))
    return series


def _decades(low: float, high: float) -> tuple[int, int]:
    """The powers of ten around [*low*, *high*], at least one decade apart."""
    bottom = math.floor(math.log10(low)) if low > 0 else -3
    top = math.ceil(math.log10(high)) if high > 0 else bottom + 1
    return bottom, max(top, bottom + 1)


def render_svg(series: Sequence[Series], *, title: str) -> str:
    """The SVG document for *series* (at least one point overall)."""
    ns = [n for s in series for n, _ in s.points]
    seconds = [v for s in series for _, v in s.points]
    if not ns:
        raise ValueError("nothing to plot: no fanout figures (run the fanout scenario)")
    low, high = math.floor(math.log10(min(ns))), math.ceil(math.log10(max(ns)))
    if high == low:
        high += 1
    bottom, top = _decades(min(seconds), max(seconds))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(n: int) -> float:
        return LEFT + (math.log10(n) - low) / (high - low) * plot_w

    def y(value: float) -> float:
        share = (math.log10(max(value, 10.0**bottom)) - bottom) / (top - bottom)
        return TOP + plot_h - share * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="28" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<g class="axes" stroke="#333"><line x1="{LEFT}" y1="{TOP + plot_h}" '
        f'x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/><line x1="{LEFT}" y1="{TOP}" '
        f'x2="{LEFT}" y2="{TOP + plot_h}"/></g>',
    ]
    for power in range(low, high + 1):
        tick = x(10**power)
        out.append(
            f'<g class="xtick"><line x1="{tick:.1f}" y1="{TOP}" x2="{tick:.1f}" '
            f'y2="{TOP + plot_h}" stroke="#ddd"/><text x="{tick:.1f}" y="{TOP + plot_h + 18}" '
            f'text-anchor="middle">{10**power:,}</text></g>'
        )
    for power in range(bottom, top + 1):
        value = 10.0**power
        tick = y(value)
        out.append(
            f'<g class="ytick"><line x1="{LEFT}" y1="{tick:.1f}" x2="{LEFT + plot_w}" '
            f'y2="{tick:.1f}" stroke="#eee"/><text x="{LEFT - 8}" y="{tick + 4:.1f}" '
            f'text-anchor="end">{value:g}</text></g>'
        )
    out += [
        f'<text class="xlabel" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 15}" '
        'text-anchor="middle">concurrent crews N (log scale)</text>',
        f'<text class="ylabel" transform="translate(18 {TOP + plot_h / 2:.0f}) rotate(-90)" '
        'text-anchor="middle">wall time (s, log scale)</text>',
    ]
    legend = [f'<g class="legend" transform="translate({LEFT + plot_w + 16} {TOP})">']
    palette: dict[tuple[str, str], str] = {}
    for index, line in enumerate(series):
        colour = palette.setdefault(
            (line.system, line.backend), COLOURS[len(palette) % len(COLOURS)]
        )
        dash = ' stroke-dasharray="6 4"' if line.kind == "floor" else ""
        points = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in line.points)
        out.append(
            f'<g class="series" data-system={quoteattr(line.system)} '
            f"data-backend={quoteattr(line.backend)} data-kind={quoteattr(line.kind)} "
            f"data-label={quoteattr(line.label)}>"
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{points}"/>'
        )
        for n, value in line.points:
            out.append(
                f'<circle cx="{x(n):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}" '
                f'data-n="{n}" data-seconds="{value}"><title>{escape(line.label)}: N={n:,}, '
                f"{value:g} s</title></circle>"
            )
        out.append("</g>")
        row = index * 20
        legend.append(
            f'<line x1="0" y1="{row}" x2="24" y2="{row}" stroke="{colour}" stroke-width="2"'
            f'{dash}/><text x="30" y="{row + 4}">{escape(line.label)}</text>'
        )
    legend.append("</g>")
    return "\n".join([*out, *legend, "</svg>"]) + "\n"


def check_path(path: str) -> str | None:
    """Why *path* cannot take the chart (not ``.svg``, no such folder), or None."""
    target = Path(path)
    if target.suffix.lower() != ".svg":
        return (
            f"--plot writes SVG only: give a path ending in .svg, not {path!r} "
            "(browsers and most viewers open SVG; convert it if you need a PNG)"
        )
    if not target.parent.is_dir():
        return f"--plot {path!r}: the folder {str(target.parent)!r} does not exist"
    return None


def write_chart(path: str, systems: Mapping[str, Sequence[Figure]], *, latency: float) -> int:
    """Write the fanout chart of *systems* to *path*; the number of series drawn."""
    series = fanout_series(systems)
    title = f"fanout: N concurrent single-task crews, {latency * 1000:g} ms per LLM call"
    Path(path).write_text(render_svg(series, title=title), encoding="utf-8")
    return len(series)
