"""Where anycrew keeps its files: the per-user data directory and its override.

Shared by the flow store and the kickoff task-output store, and kept apart from
both so that storing a kickoff's outputs does not import the flow package.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from pathlib import Path


def user_data_dir(
    platform: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """The platform's per-user data directory (without an application folder).

    ``%LOCALAPPDATA%`` on Windows, ``~/Library/Application Support`` on macOS, and
    ``$XDG_DATA_HOME`` (if absolute) or ``~/.local/share`` elsewhere. The arguments
    default to the running platform, ``os.environ`` and the home directory.
    """
    platform = sys.platform if platform is None else platform
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if platform == "win32":
        base = env.get("LOCALAPPDATA") or env.get("APPDATA")
        return Path(base) if base else home / "AppData" / "Local"
    if platform == "darwin":
        return home / "Library" / "Application Support"
    xdg = env.get("XDG_DATA_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share"


def storage_dir() -> Path:
    """The directory anycrew keeps its files in (not created here).

    ``$ANYCREW_STORAGE_DIR`` if set, else ``<user data dir>/anycrew``. Worked out
    once per set of the environment variables it depends on: every kickoff that
    stores its task outputs asks for it, and building the path takes longer than
    reading the variables.
    """
    env = os.environ
    return _storage_dir(tuple(env.get(name, "") for name in _STORAGE_ENV))


# What storage_dir() depends on: the override, the data-directory variables and
# what Path.home() reads.
_STORAGE_ENV = (
    "ANYCREW_STORAGE_DIR",
    "XDG_DATA_HOME",
    "LOCALAPPDATA",
    "APPDATA",
    "HOME",
    "USERPROFILE",
    "HOMEDRIVE",
    "HOMEPATH",
)


@functools.lru_cache(maxsize=16)
def _storage_dir(environment: tuple[str, ...]) -> Path:
    # *environment* holds the values of _STORAGE_ENV, in order: the cache key.
    override = environment[0].strip()
    return Path(override).expanduser() if override else user_data_dir() / "anycrew"
