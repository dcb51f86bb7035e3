"""The ``anycrew`` command (``python -m anycrew``): ``anycrew bench ...``.

The benchmark code is imported only when a command runs, so ``import anycrew``
stays light.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: anycrew COMMAND [ARGS ...]

commands:
  bench    measure anycrew on the offline simulator (anycrew bench --help)
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
    print(f"anycrew: unknown command {command!r}\n{USAGE}", end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
