"""Open the store named by a database URL or path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.store.sql import SourceHealth, SqlStore

__all__ = ["SourceHealth", "SqlStore", "open_store"]


def open_store(url: str, *, upgrade: bool = True) -> SqlStore:
    """``path/to/file.db``, ``sqlite:///path``, or ``:memory:``.

    The schema is brought up to date unless ``upgrade`` is False.
    """
    if url.startswith(("postgresql://", "postgres://")):
        raise ValueError(
            f"PostgreSQL ({url.split('@')[-1]}) is not supported by this version yet; use a SQLite path"
        )
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    store = SqlStore(conn)
    if upgrade:
        store.upgrade()
    return store
