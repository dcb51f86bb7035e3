"""Checking adapter parameters, and keeping credentials out of sight."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import httpx

from ... import __version__
from ...errors import ConfigurationError

MASK = "********"
_USERINFO = re.compile(r"(?<=://)[^/@]*@")


class Secret:
    """A credential whose ``repr`` and ``str`` never show it; :meth:`reveal` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__


def display_url(url: str) -> str:
    """*url* without any ``user:password@`` part."""
    return _USERINFO.sub("", url)


def reject_unknown(provider: str, unknown: Mapping[str, Any], known: list[str]) -> None:
    """Raise :class:`ConfigurationError` naming the parameters the adapter does not take."""
    if unknown:
        raise ConfigurationError(
            f"the {provider} provider does not take {', '.join(sorted(unknown))}; "
            f"its parameters are {', '.join(known)}"
        )


def check_number(
    provider: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
) -> float | None:
    """*value* as a float if it is a number within bounds (or ``None``), else raise."""
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    if ok and low is not None:
        ok = value >= low
    if ok and high is not None:
        ok = value <= high
    if ok and above is not None:
        ok = value > above
    if not ok:
        bounds = [
            f">= {low:g}" if low is not None else "",
            f"<= {high:g}" if high is not None else "",
            f"> {above:g}" if above is not None else "",
        ]
        wanted = " and ".join(b for b in bounds if b) or "a number"
        raise ConfigurationError(f"{provider} {name} must be a number {wanted}, got {value!r}")
    return float(value)


def check_int(provider: str, name: str, value: Any, *, low: int | None = None) -> int | None:
    """*value* if it is an integer (>= *low* when given), or ``None``; else raise."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or (low is not None and value < low):
        wanted = f"an integer >= {low}" if low is not None else "an integer"
        raise ConfigurationError(f"{provider} {name} must be {wanted}, got {value!r}")
    return value


def check_strings(provider: str, name: str, value: Any) -> list[str] | None:
    """*value* as a non-empty list of strings, ``None`` for ``None`` or an empty list."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigurationError(f"{provider} {name} must be a list of strings, got {value!r}")
    if not all(isinstance(item, str) for item in value):
        raise ConfigurationError(f"{provider} {name} must be a list of strings, got {value!r}")
    return list(value) or None


def check_base_url(provider: str, value: Any) -> str:
    """A usable ``http(s)://`` base URL, without its trailing slash."""
    url = value.strip().rstrip("/") if isinstance(value, str) else ""
    try:
        ok = url.startswith(("http://", "https://")) and bool(httpx.URL(url).host)
    except httpx.InvalidURL:
        ok = False
    if not ok:
        shown = repr(display_url(value)) if isinstance(value, str) else repr(value)
        raise ConfigurationError(
            f"{provider} base_url must be an http:// or https:// URL, got {shown}"
        )
    return url


def check_headers(provider: str, value: Any) -> dict[str, str]:
    """*value* as a dict of string headers (values are never shown in errors)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(
            f"{provider} extra_headers must be a dict of strings to strings, e.g. "
            "{'OpenAI-Organization': 'org-...'}"
        )
    return dict(value)


def resolve_api_key(
    provider: str, api_key: Any, env_var: str | None, *, required: bool
) -> Secret | None:
    """The key from *api_key*, else from *env_var*; raise if *required* and neither is set."""
    if api_key is not None:
        if isinstance(api_key, Secret):
            return api_key
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(f"{provider} api_key must be a non-empty string")
        return Secret(api_key.strip())
    value = os.environ.get(env_var, "").strip() if env_var else ""
    if value:
        return Secret(value)
    if required:
        raise ConfigurationError(
            f"no API key for the {provider} provider: set the {env_var} environment "
            "variable, or pass api_key=... to LLM(...)"
        )
    return None


def user_agent() -> str:
    """The User-Agent anycrew sends."""
    return f"anycrew/{__version__} httpx/{httpx.__version__}"
