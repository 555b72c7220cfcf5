"""Open the store named by a database URL or path."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from monitor.errors import NotFound
from monitor.store.sql import (
    DatabaseUnavailable,
    DuplicateIncident,
    SourceHealth,
    SqlStore,
    describe_error,
    hint_for,
)

__all__ = [
    "DatabaseUnavailable",
    "DuplicateIncident",
    "SourceHealth",
    "SqlStore",
    "is_postgres_url",
    "open_existing",
    "open_store",
    "redact_url",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def open_store(url: str, *, upgrade: bool = True, busy_timeout: float = 5.0) -> SqlStore:
    """``path/to/file.db``, ``sqlite:///path``, ``:memory:``, or ``postgresql://user@host/db``.

    ``postgres://`` works too, and so does any libpq URI parameter
    (``?sslmode=require``, ``?options=-csearch_path%3Dcrisismon``). PostgreSQL needs the
    ``postgres`` extra; without it this raises ImportError saying what to install.
    The schema is brought up to date unless ``upgrade`` is False. ``busy_timeout``: how long
    a SQLite write waits for another process's lock.

    Raises DatabaseUnavailable, naming the database and what to do, when it cannot be
    opened (unreachable server, read-only or damaged file...).
    """
    where = describe(url)
    try:
        store = _open_postgres(url, where) if is_postgres_url(url) else _open_sqlite(url, where, busy_timeout)
    except ImportError:
        raise
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        if not _is_driver_error(exc):
            raise
        raise DatabaseUnavailable(f"cannot open {where}: {describe_error(exc)}{hint_for(exc)}") from exc
    if upgrade:
        try:
            store.upgrade()
        except BaseException:
            store.close()
            raise
    return store


def describe(url: str) -> str:
    """How messages name the database: the redacted URL, or ``SQLite database PATH``."""
    if is_postgres_url(url):
        return f"PostgreSQL database {redact_url(url)}"
    return f"SQLite database {url.removeprefix('sqlite:///').removeprefix('sqlite://')}"


def _is_driver_error(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.Error | OSError) or type(exc).__module__.startswith("psycopg")


def _open_sqlite(url: str, where: str, busy_timeout: float) -> SqlStore:
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if Path(path).is_dir():
            raise DatabaseUnavailable(f"cannot open {where}: it is a folder; give the path of a file (new or existing)")
    conn = sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return SqlStore(conn, where=where)


def _open_postgres(url: str, where: str) -> SqlStore:
    try:
        from monitor.store.postgres import connect_postgres
    except ImportError as exc:
        raise ImportError(
            f"{redact_url(url)} is a PostgreSQL database, and PostgreSQL support is not installed: "
            "pip install 'crisismon[postgres]'"
        ) from exc
    return connect_postgres(url, where=where)


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


def open_existing(url: str) -> SqlStore:
    """Open the database for a read-only command: never create one (a typo would make an empty one)."""
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    if not is_postgres_url(url) and path != ":memory:" and not Path(path).exists():
        raise NotFound(
            f"no database at {path}: pass --db or --config (or set CRISISMON_DB) to name the daemon's database"
        )
    return open_store(url)
