"""When to try a provider request again, and how long to wait first.

Pure functions, free of I/O, so the policy can be tested exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value.

    The value is either a number of seconds (fractions accepted, as some servers
    send them) or an HTTP date. A date in the past means "now" (0.0). Returns
    ``None`` for a missing or unreadable value.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: datetime | None = None
) -> float | None:
    """The wait a response asks for: ``retry-after-ms`` (OpenAI's), else ``retry-after``.

    *headers* must look names up case-insensitively (``httpx.Headers`` does) or use
    lower-case names.
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value / 1000
    return parse_retry_after(headers.get("retry-after"), now=now)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a failed request.

    Waits grow exponentially with "full jitter" (a uniform draw between zero and the
    exponential bound), so many clients failing together do not retry together. A
    ``Retry-After`` the provider sent is honoured as given, unless it asks for more
    than *max_retry_after* seconds: then waiting would look like a hang, so the
    error is raised at once with its ``retry_after`` for the caller to act on.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        base_delay: the bound of the first wait, in seconds.
        max_delay: the bound no wait exceeds, however many retries.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds.
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """The jittered wait before retry number *retry* (0 for the first retry)."""
        bound = min(self.max_delay, self.base_delay * 2.0 ** min(retry, 32))
        return rand() * bound

    def delay(
        self,
        retry: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """The wait before retry number *retry*, or ``None`` if there is none to make."""
        if retry >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return self.backoff(retry, rand)
