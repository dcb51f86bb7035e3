"""``anycrew bench --plot``: the fanout chart, read back as XML."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from anycrew.bench._common import Figure
from anycrew.bench.plot import check_path, fanout_series, render_svg, write_chart
from anycrew.bench.runner import main

SVG = "{http://www.w3.org/2000/svg}"


def fanout(backend: str, walls: dict[int, float], floors: dict[int, float]) -> list[Figure]:
    figures = [Figure("fanout", f"n={n} wall", s, "s", backend) for n, s in walls.items()]
    figures += [
        Figure("fanout", f"n={n} floor (bare anyio sleeps)", s, "s", backend)
        for n, s in floors.items()
    ]
    # Figures of other kinds and scenarios are not plotted.
    figures += [Figure("fanout", f"n={n} ratio to floor", 9.0, "x", backend) for n in walls] + [
        Figure("chain", "10 tasks wall", 0.5, "s", backend)
    ]
    return figures


def read_series(svg: str) -> dict[str, dict[str, object]]:
    root = ET.fromstring(svg)
    found: dict[str, dict[str, object]] = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "series":
            continue
        line = group.find(f"{SVG}polyline")
        assert line is not None
        found[str(group.get("data-label"))] = {
            "system": group.get("data-system"),
            "backend": group.get("data-backend"),
            "kind": group.get("data-kind"),
            "dashed": line.get("stroke-dasharray") is not None,
            "points": [
                (int(c.get("data-n", "0")), float(c.get("data-seconds", "0")))
                for c in group.iter(f"{SVG}circle")
            ],
            "xs": [float(c.get("cx", "0")) for c in group.iter(f"{SVG}circle")],
            "ys": [float(c.get("cy", "0")) for c in group.iter(f"{SVG}circle")],
        }
    return found


def test_chart_has_a_series_per_system_and_backend_with_dashed_floors(tmp_path: Path) -> None:
    anycrew = [
        *fanout("asyncio", {100: 0.3, 10: 0.07, 1000: 1.2}, {10: 0.05, 100: 0.06, 1000: 0.2}),
        *fanout("trio", {10: 0.08, 100: 0.35, 1000: 1.5}, {10: 0.05, 100: 0.07, 1000: 0.3}),
    ]
    crewai = [
        Figure("fanout", "n=10 wall", 2.2, "s", "asyncio"),
        Figure("fanout", "n=100 wall", 18.4, "s", "asyncio"),
        Figure("fanout", "n=10 floor (bare asyncio sleeps)", 0.05, "s", "asyncio"),
        Figure("fanout", "n=100 floor (bare asyncio sleeps)", 0.055, "s", "asyncio"),
    ]
    path = tmp_path / "fanout.svg"
    assert write_chart(str(path), {"anycrew": anycrew, "crewai": crewai}, latency=0.05) == 6

    text = path.read_text(encoding="utf-8")
    series = read_series(text)
    assert list(series) == [
        "anycrew asyncio",
        "anycrew asyncio floor (bare anyio)",
        "anycrew trio",
        "anycrew trio floor (bare anyio)",
        "crewai asyncio",
        "crewai asyncio floor (bare asyncio)",
    ]
    assert series["anycrew asyncio"]["points"] == [(10, 0.07), (100, 0.3), (1000, 1.2)]
    assert series["crewai asyncio"]["points"] == [(10, 2.2), (100, 18.4)]
    assert series["crewai asyncio"]["system"] == "crewai"
    assert series["anycrew trio floor (bare anyio)"]["backend"] == "trio"
    for label, line in series.items():
        assert line["dashed"] == ("floor" in label) == (line["kind"] == "floor"), label

    # N is on a log scale: 10 -> 100 -> 1000 are equal steps; so are the seconds.
    xs = series["anycrew asyncio"]["xs"]
    assert isinstance(xs, list)
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)
    ys = series["crewai asyncio"]["ys"]
    assert isinstance(ys, list)
    per_decade = (ys[0] - ys[1]) / math.log10(18.4 / 2.2)
    floors = series["crewai asyncio floor (bare asyncio)"]["ys"]
    assert isinstance(floors, list)
    assert floors[0] - ys[0] == pytest.approx(per_decade * math.log10(2.2 / 0.05), abs=0.5)

    root = ET.fromstring(text)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "concurrent crews N (log scale)" in texts
    assert "wall time (s, log scale)" in texts
    assert {"10", "100", "1,000"} <= set(texts)  # the decade ticks
    assert set(series) <= set(texts)  # every series is in the legend


def test_single_point_and_empty_input() -> None:
    series = fanout_series({"anycrew": fanout("asyncio", {10: 0.06}, {10: 0.05})})
    assert [s.points for s in series] == [((10, 0.06),), ((10, 0.05),)]
    assert len(read_series(render_svg(series, title="t"))) == 2
    with pytest.raises(ValueError, match="run the fanout scenario"):
        render_svg(fanout_series({"anycrew": []}), title="t")


def test_plot_path_must_be_svg_in_an_existing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_path(str(tmp_path / "chart.SVG")) is None
    problem = check_path(str(tmp_path / "chart.png"))
    assert problem is not None
    assert "SVG only" in problem
    assert "chart.png" in problem
    missing = check_path(str(tmp_path / "nowhere" / "chart.svg"))
    assert missing is not None
    assert "does not exist" in missing

    # The command refuses before it runs anything (a run would take seconds).
    with pytest.raises(SystemExit) as exit_info:
        main(["fanout", "--plot", str(tmp_path / "chart.png"), "--backend", "asyncio"])
    assert exit_info.value.code == 2
    assert "--plot writes SVG only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["chain", "--plot", str(tmp_path / "chart.svg")])
    assert "--plot charts the fanout scenario" in capsys.readouterr().err
    assert not (tmp_path / "chart.svg").exists()
