"""Where ``@persist`` keeps flow states.

:class:`FlowPersistence` is the seam; :class:`SQLiteFlowPersistence` the default
backend, chosen in one place, :func:`default_persistence`. The SQLite backend (and
``sqlite3``) load only when first used, so importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import FlowPersistence as FlowPersistence
from .base import PersistenceError as PersistenceError

if TYPE_CHECKING:
    from .sqlite import SQLiteFlowPersistence as SQLiteFlowPersistence

__all__ = ["FlowPersistence", "PersistenceError", "SQLiteFlowPersistence", "default_persistence"]


def default_persistence() -> FlowPersistence:
    """The store ``@persist`` uses when given none: SQLite in the user's data directory.

    The file is ``$ANYCREW_STORAGE_DIR/flows.db`` if that variable is set, else
    ``<user data dir>/anycrew/flows.db`` (XDG on Linux, ``~/Library/Application
    Support`` on macOS, ``%LOCALAPPDATA%`` on Windows); it is created on first use.
    """
    from .sqlite import SQLiteFlowPersistence

    return SQLiteFlowPersistence()


def __getattr__(name: str) -> Any:
    # Lazy so that importing the package never loads the SQLite module.
    if name == "SQLiteFlowPersistence":
        from .sqlite import SQLiteFlowPersistence

        return SQLiteFlowPersistence
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
