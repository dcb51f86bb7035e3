"""Storage backends of :mod:`anycrew.memory` (SQLite, loaded only when used)."""
