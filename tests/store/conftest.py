"""The store fixtures: every test here runs on SQLite, and on PostgreSQL when one is there.

PostgreSQL tests read the server's URL from ``CRISISMON_TEST_POSTGRES_URL`` (``.ci/run``
sets it, e.g. ``postgresql://postgres@127.0.0.1:5432/test``) and are skipped without it.
Each test gets a schema of its own, dropped afterwards, so tests are isolated and the
database is left as it was.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import SqlStore, open_store

POSTGRES_ENV = "CRISISMON_TEST_POSTGRES_URL"
SKIP_REASON = f"set {POSTGRES_ENV} to run the PostgreSQL tests"

BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(SKIP_REASON)
    yield from fresh_postgres_schema(base)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = open_store(db_url)
    yield s
    s.close()


def fresh_postgres_schema(base: str) -> Iterator[str]:
    """Create a uniquely named schema, yield a URL whose search_path is that schema, drop it."""
    import psycopg

    name = f"crisismon_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
        try:
            yield with_search_path(base, name)
        finally:
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f"DROP SCHEMA {name} CASCADE")


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
