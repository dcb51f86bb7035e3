"""The ``anycrew bench`` command: run the scenarios per backend, print or save figures.

With several backends each runs in a child process (``python -m anycrew bench
--child BACKEND ...``, which prints its figures as JSON on stdout), so that peak RSS,
thread counts and loop state belong to that backend alone. With one backend the
scenarios run in this process. ``--compare crewai`` runs the peer harness in
CrewAI's own environment afterwards; ``--plot`` charts the fanout figures of all.
Progress goes to stderr (see ``progress``); the table, or with ``--json -`` the
JSON document, to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from . import cancel, chain, compare, events, fanout, overhead, plot, progress, threads
from ._child import ChildFailed
from ._child import run_child as run_child_process
from ._common import Figure, Settings, log

#: Scenario name -> its ``run``; the order is the order they run and print in.
SCENARIOS: dict[str, Callable[[Settings], Awaitable[list[Figure]]]] = {
    "overhead": overhead.run,
    "fanout": fanout.run,
    "chain": chain.run,
    "events": events.run,
    "cancel": cancel.run,
    "threads": threads.run,
}
BACKENDS = ("asyncio", "uvloop", "trio")
QUICK_NS = (10,)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``anycrew bench``."""
    parser = argparse.ArgumentParser(
        prog="anycrew bench",
        description="Measure anycrew on the offline simulator: "
        + ", ".join(SCENARIOS)
        + " (default: all).",
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenarios to run")
    parser.add_argument("--backend", choices=(*BACKENDS, "all"), default="all")
    parser.add_argument(
        "--n", nargs="+", type=int, metavar="N", help="crew counts for fanout (10 100 1000 10000)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.05, metavar="S", help="simulated LLM latency (0.05)"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the JSON document here ('-': to stdout only)"
    )
    parser.add_argument(
        "--plot", metavar="PATH", help="write a chart of fanout wall time against N (.svg)"
    )
    parser.add_argument(
        "--compare",
        choices=compare.PEERS,
        help="run overhead, fanout (N <= 1000), events and cancel on CrewAI too, side by side",
    )
    parser.add_argument(
        "--peers-venv",
        default=compare.DEFAULT_VENV,
        metavar="PATH",
        help="the peers' virtual environment (.venv-peers, made by `make bench-peers`)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    return parser


async def run_scenarios(settings: Settings, scenarios: Sequence[str]) -> list[Figure]:
    """Run *scenarios* on the current event loop; their figures, tagged with the backend."""
    figures: list[Figure] = []
    for name in scenarios:
        log(f"{settings.backend}: {name}")
        measured = await SCENARIOS[name](settings)
        figures += [dataclasses.replace(f, backend=settings.backend) for f in measured]
    return figures


def run_backend(settings: Settings, scenarios: Sequence[str]) -> list[Figure]:
    """Run *scenarios* in this process on ``settings.backend`` (``anyio.run``)."""
    name, options = (
        ("asyncio", {"use_uvloop": True})
        if settings.backend == "uvloop"
        else (
            settings.backend,
            {},
        )
    )
    return anyio.run(run_scenarios, settings, scenarios, backend=name, backend_options=options)


def run_child(backend: str, argv: Sequence[str]) -> list[Figure]:
    """Run one backend in a child process with the same arguments; its figures.

    The child's progress lines are relayed through the current progress display.
    """
    command = [sys.executable, "-m", "anycrew", "bench", *argv, "--child", backend]
    stdout = run_child_process(command, progress.current(), what=f"the {backend} benchmark child")
    return [Figure(**item) for item in json.loads(stdout)]


def version(distribution: str) -> str | None:
    """The installed version of *distribution*, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        **{name: version(name) for name in ("anycrew", "anyio", "trio", "pydantic", "uvloop")},
    }


def format_value(value: float) -> str:
    """A figure for the table: thousands separated, else four significant digits."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def table(figures: Sequence[Figure], backends: Sequence[str]) -> str:
    """A plain-text table: one row per figure, one value column per backend."""
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for figure in figures:
        key = (figure.scenario, figure.name, figure.unit)
        rows.setdefault(key, {})[figure.backend] = format_value(figure.value)
    header = ["scenario", "figure", "unit", *backends]
    lines = [header] + [
        [scenario, name, unit, *(values.get(b, "-") for b in backends)]
        for (scenario, name, unit), values in rows.items()
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text_columns = 3  # left-aligned; the backend columns are numbers, right-aligned
    out = []
    for position, line in enumerate(lines):
        cells = [
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if position == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, before anything runs, what cannot work (exits with usage status 2)."""
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.latency < 0 or any(n < 1 for n in args.n or ()):
        parser.error("--latency must be >= 0 and every --n >= 1")
    if args.child:
        return
    scenarios = args.scenarios or list(SCENARIOS)
    if args.plot:
        problem = plot.check_path(args.plot)
        if problem:
            parser.error(problem)
        if "fanout" not in scenarios:
            parser.error("--plot charts the fanout scenario: run it too (add 'fanout')")
    if args.json and args.json != "-" and not os.path.isdir(os.path.dirname(args.json) or "."):
        parser.error(f"--json {args.json!r}: the folder does not exist")
    if args.compare:
        if not any(name in compare.PEER_SCENARIOS for name in scenarios):
            parser.error(
                f"--compare {args.compare} runs {', '.join(compare.PEER_SCENARIOS)}; "
                "none of them is selected"
            )
        problem = compare.check_venv(args.peers_venv)
        if problem:
            parser.error(problem)


def document_of(
    args: argparse.Namespace,
    scenarios: Sequence[str],
    fanout_ns: Sequence[int],
    ran: Sequence[str],
    figures: Sequence[Figure],
    notes: Sequence[str],
    peer: compare.PeerRun | None,
    rows: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON document: machine, settings, anycrew's figures and any peer's."""
    document: dict[str, Any] = {
        "benchmark": "anycrew bench",
        "machine": machine(),
        "backends": list(ran),
        "scenarios": list(scenarios),
        "settings": {
            "quick": args.quick,
            "fanout_n": list(fanout_ns),
            "fanout_rounds": Settings("", quick=args.quick).fanout_rounds,
            "latency": args.latency,
        },
        "figures": [figure.as_dict() for figure in figures],
        "notes": list(notes),
    }
    if peer is not None:
        document["peers"] = {
            peer.system: {**peer.document, "figures": [f.as_dict() for f in peer.figures]}
        }
        document["comparison"] = list(rows)
    return document


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``anycrew bench`` with *argv* (default: the command line); the exit status."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[2:] if argv is None else argv)
    check_args(parser, args)
    scenarios = [name for name in SCENARIOS if name in args.scenarios] or list(SCENARIOS)
    fanout_ns = tuple(args.n) if args.n else QUICK_NS if args.quick else Settings.fanout_ns

    def settings(backend: str) -> Settings:
        return Settings(backend, args.quick, fanout_ns, args.latency)

    if args.child:
        progress.use(progress.Progress("lines"))  # the parent relays these lines
        figures = run_backend(settings(args.child), scenarios)
        print(json.dumps([figure.as_dict() for figure in figures]), flush=True)
        return 0

    display = progress.Progress.for_terminal(quiet=args.quiet or args.json == "-")
    progress.use(display)
    try:
        return run_all(args, scenarios, fanout_ns, settings, display)
    except ChildFailed as error:
        display.clear()
        print(f"anycrew bench: {error}", file=sys.stderr)
        return 1
    finally:
        display.clear()


def run_all(
    args: argparse.Namespace,
    scenarios: Sequence[str],
    fanout_ns: Sequence[int],
    settings: Callable[[str], Settings],
    display: progress.Progress,
) -> int:
    """Run the backends (and the peer), then print and write what was asked for."""
    notes: list[str] = []
    ran: list[str] = []
    figures: list[Figure] = []
    chosen = BACKENDS if args.backend == "all" else (args.backend,)
    for backend in chosen:
        if backend == "uvloop" and importlib.util.find_spec("uvloop") is None:
            notes.append("uvloop skipped: not importable (pip install 'anycrew[uvloop]')")
            display.note(notes[-1])
            continue
        if len(chosen) > 1:
            child_args = [*scenarios, "--latency", repr(args.latency), "--n", *map(str, fanout_ns)]
            figures += run_child(backend, [*child_args, *(["--quick"] if args.quick else [])])
        else:
            figures += run_backend(settings(backend), scenarios)
        ran.append(backend)

    peer: compare.PeerRun | None = None
    rows: list[dict[str, Any]] = []
    against = "asyncio" if "asyncio" in ran or not ran else ran[0]  # CrewAI runs on asyncio
    if args.compare:
        peer_args = compare.harness_args(scenarios, fanout_ns, args.latency, args.quick)
        if peer_args is not None:
            log(f"{args.compare}: starting its harness in {args.peers_venv}")
            peer = compare.run_peer(args.peers_venv, peer_args, display)
            imported = Figure("import", "import the package", compare.measure_import(), "ms")
            ours = [*figures, dataclasses.replace(imported, backend=against)]
            rows = compare.comparison_rows(ours, peer, against)
            refused = peer.document.get("network", {}).get("refused", 0)
            notes.append(
                f"{peer.system}: {refused} attempt(s) to reach beyond loopback, "
                "refused by the harness's guard before any traffic"
            )
    display.clear()

    if args.plot:
        systems = {"anycrew": figures, **({peer.system: peer.figures} if peer else {})}
        drawn = plot.write_chart(args.plot, systems, latency=args.latency)
        notes.append(f"chart of {drawn} series written to {args.plot}")
    document = document_of(args, scenarios, fanout_ns, ran, figures, notes, peer, rows)
    if args.json == "-":
        print(json.dumps(document, indent=2), flush=True)
        return 0
    print(table(figures, ran), flush=True)
    if peer is not None:
        version = f" {peer.version}" if peer.version else ""
        print(f"\nside by side with {peer.system}{version} (same scenarios, its own process):")
        print(compare.comparison_table(rows, peer.system, against))
    for note in notes:
        print(f"note: {note}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.write("\n")
    return 0
