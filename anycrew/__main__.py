"""The ``anycrew`` command (``python -m anycrew``): ``anycrew bench ...``, ``anycrew replay ...``.

The code of each command is imported only when it runs, so ``import anycrew`` stays
light.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: anycrew COMMAND [ARGS ...]

commands:
  bench              measure anycrew on the offline simulator (anycrew bench --help)
  replay             run a crew again from a task: anycrew replay -t TASK_ID --crew REF
  log-tasks-outputs  list the tasks of the latest stored kickoffs and their ids
  test               score a crew's task outputs over N runs: anycrew test --crew REF -n 3
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``anycrew COMMAND ...``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "bench":
        from .bench.runner import main as bench

        return bench(rest)
    if command in ("replay", "log-tasks-outputs", "test"):
        from .crews import _cli

        run = {
            "replay": _cli.replay_main,
            "log-tasks-outputs": _cli.log_tasks_outputs_main,
            "test": _cli.crew_test_main,
        }[command]
        return run(rest)
    print(f"anycrew: unknown command {command!r}\n{USAGE}", end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
