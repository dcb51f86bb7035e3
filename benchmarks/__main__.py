"""``python -m benchmarks``: the same command as ``anycrew bench`` (run from the repository root).

    python -m benchmarks --backend all --json bench.json --plot fanout.svg
    python -m benchmarks overhead fanout cancel events --compare crewai

The single-purpose scripts next to this file (overhead.py, streaming.py, flow.py)
keep their one-line JSON outputs.
"""

from __future__ import annotations

import sys

from anycrew.bench.runner import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
