"""An async token bucket for requests-per-minute limits (``max_rpm``)."""

from __future__ import annotations

import threading
import time

import anyio


class RateLimiter:
    """Allows *per_minute* acquisitions a minute, smoothly, without blocking a thread.

    A token bucket: it holds up to *per_minute* tokens (so a burst of that many goes
    through at once) and refills at ``per_minute / 60`` tokens a second. A caller
    that finds it empty reserves the next token and sleeps (cancellably, with
    ``anyio.sleep``) until it is due, so waiters are served in order. Safe to share
    between event loops and threads.
    """

    def __init__(self, per_minute: int) -> None:
        if not isinstance(per_minute, int) or per_minute < 1:
            raise ValueError(f"max_rpm must be a positive integer, got {per_minute!r}")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._tokens = float(per_minute)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token (possibly on credit); return how long to wait for it."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(
                float(self.per_minute), self._tokens + (now - self._updated) * self._rate
            )
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def _refund(self) -> None:
        with self._lock:
            self._tokens = min(float(self.per_minute), self._tokens + 1.0)

    async def acquire(self) -> None:
        """Wait until a request may go out (at once while tokens are left)."""
        delay = self._reserve()
        if delay <= 0:
            return
        try:
            await anyio.sleep(delay)
        except BaseException:
            self._refund()  # a cancelled wait gives its token back
            raise
