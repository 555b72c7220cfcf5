"""Open the store named by a database URL or path."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from monitor.store.sql import DatabaseUnavailable, DuplicateIncident, SourceHealth, SqlStore

__all__ = [
    "DatabaseUnavailable",
    "DuplicateIncident",
    "SourceHealth",
    "SqlStore",
    "is_postgres_url",
    "open_store",
    "redact_url",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def open_store(url: str, *, upgrade: bool = True) -> SqlStore:
    """``path/to/file.db``, ``sqlite:///path``, ``:memory:``, or ``postgresql://user@host/db``.

    ``postgres://`` works too, and so does any libpq URI parameter
    (``?sslmode=require``, ``?options=-csearch_path%3Dcrisismon``). PostgreSQL needs the
    ``postgres`` extra; without it this raises ImportError saying what to install.
    The schema is brought up to date unless ``upgrade`` is False.
    """
    store = _open_postgres(url) if is_postgres_url(url) else _open_sqlite(url)
    if upgrade:
        try:
            store.upgrade()
        except BaseException:
            store.close()
            raise
    return store


def _open_sqlite(url: str) -> SqlStore:
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return SqlStore(conn)


def _open_postgres(url: str) -> SqlStore:
    try:
        from monitor.store.postgres import connect_postgres
    except ImportError as exc:
        raise ImportError(
            f"{redact_url(url)} is a PostgreSQL database, and PostgreSQL support is not installed: "
            "pip install 'crisismon[postgres]'"
        ) from exc
    return connect_postgres(url)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    tail = re.sub(r"(?i)(\bpassword=)[^&#]*", r"\1***", tail)
    return f"{scheme}{sep}{netloc}{tail}"
