"""What ``verbose=True`` prints: one line per crew, task and agent step."""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("anycrew.verbose")


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (tests and notebooks swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_handler = _StderrHandler()
_handler.setFormatter(logging.Formatter("[anycrew] %(message)s"))


def say(message: str) -> None:
    """Log a progress line; printed to stderr unless the app configured logging."""
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logging.getLogger().handlers and _handler not in logger.handlers:
        logger.addHandler(_handler)
    logger.info(message)


def clip(text: str, limit: int = 200) -> str:
    """*text* on one line, cut to *limit* characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
