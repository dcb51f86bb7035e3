"""Event throughput: frames per second through anycrew's fan-out, next to a bare stream.

One crew whose simulator streams N token chunks (``--chunks``, default 20000) is run
in four ways, one backend after another in the same process:

* ``astream``: ``async with crew.astream(...)`` read by one consumer (events become
  StreamFrames: the whole frame contract);
* ``bus_1`` / ``bus_6``: ``akickoff`` with 1 or 6 async handlers on the event bus;
* ``bare``: the same number of items through one bare anyio memory object stream
  (producer task to consumer task, buffer 256), the floor.

Figures are events per second (all events of the run, chunks included) and each
way's ratio to ``bare`` (how many times slower). Run::

    python benchmarks/streaming.py --backend all

The measurement lives in ``anycrew.bench.events`` (also run by ``anycrew bench
events``, which prints a table); this script keeps the one-line JSON output.

It prints one JSON line to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys

import anyio

from anycrew.bench.events import measure


def log(message: str) -> None:
    print(f"[streaming] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="all", choices=["asyncio", "trio", "uvloop", "all"])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    backends = ["asyncio", "uvloop", "trio"] if args.backend == "all" else [args.backend]
    results = []
    notes = []
    for backend in backends:
        if backend == "uvloop" and importlib.util.find_spec("uvloop") is None:
            notes.append("uvloop skipped: not importable")
            continue
        name, options = ("asyncio", {"use_uvloop": True}) if backend == "uvloop" else (backend, {})
        rows = anyio.run(measure, args.chunks, backend=name, backend_options=options or None)
        for row in rows:
            row["backend"] = backend
            log(f"{backend} {row['way']}: {row['events_per_s']} events/s, x{row['x_bare']} bare")
        results.extend(rows)
    document = {
        "benchmark": "streaming",
        "python": platform.python_version(),
        "machine": {"platform": platform.platform()},
        "chunks": args.chunks,
        "results": results,
        "notes": notes,
    }
    line = json.dumps(document)
    print(line)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
