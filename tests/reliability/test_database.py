"""Database connections heal, and nothing is lost or doubled meanwhile (issue 13, point 3).

PostgreSQL (the real server, ``CRISISMON_TEST_POSTGRES_URL``): the backend serving the
daemon's connection is terminated (``pg_terminate_backend``) during intake, polling,
evaluation and delivery; every item is stored once, the incident opens once, the alert and
its checklist reach Slack once. SQLite: a write lock held by another process. And the
daemon gives up (exit 1) when the database stays away longer than ``database_outage_limit``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.http.api import ApiServer
from monitor.http.server import HttpServer, Reply, Request
from monitor.notify.render import SlackRenderer
from monitor.slack.client import SlackNotifier, make_web_client
from monitor.sources.feeds import FeedSource
from monitor.sources.http import FetchPolicy, HttpFetcher
from monitor.sources.outbound import AddressPolicy, Outbound
from monitor.store import DatabaseUnavailable, SqlStore, open_store
from monitor.testing import FakeClock, FakeScorer, FakeSlackServer, FakeSource

from ..conftest import ROOT
from ..store.conftest import POSTGRES_ENV, SKIP_REASON, fresh_postgres_schema
from ..test_engine import surge
from .conftest import TOKEN, make_api

T = TypeVar("T")


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(SKIP_REASON)
    yield from fresh_postgres_schema(base)


def terminate(store: SqlStore) -> None:
    """Kill the server process behind the store's connection, and wait until it is gone."""
    import psycopg

    pid = store._conn.info.backend_pid
    with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def kill_before(store: SqlStore, method: str) -> list[int]:
    """The next call of ``store.method`` finds its connection terminated (once)."""
    original = getattr(store, method)
    fired: list[int] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not fired:
            fired.append(1)
            terminate(store)
        return original(*args, **kwargs)

    setattr(store, method, wrapper)
    return fired


def until_ok(job: Callable[[], T], seconds: float = 15) -> tuple[T, int]:
    """Run ``job`` like the scheduler does, until it gets through: (its result, failed runs)."""
    failures = 0
    deadline = time.monotonic() + seconds
    while True:
        try:
            return job(), failures
        except DatabaseUnavailable:
            failures += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.postgres
def test_a_terminated_connection_is_reopened_and_readyz_says_so_meanwhile(pg_url: str) -> None:
    store = open_store(pg_url)
    server = ApiServer(make_api(store)).start()
    try:
        store.record_fetch("s", FakeClock().now(), error=None, items=0)
        terminate(store)
        with pytest.raises(DatabaseUnavailable) as caught:
            store.source_health()
        assert "the connection was lost" in str(caught.value) and "PostgreSQL database postgresql://" in str(
            caught.value
        )
        ready = httpx.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 503 and "PostgreSQL" in ready.json()["checks"]["database"]["detail"]
        _, failures = until_ok(lambda: store.record_fetch("s", FakeClock().now(), error=None, items=1))
        assert failures <= 10  # 0.5 s of backoff, then the connection is back
        assert httpx.get(server.url + "/readyz", timeout=5).json()["checks"]["database"]["ok"]
        assert [h.items_total for h in store.source_health()] == [1]
    finally:
        server.close()
        store.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_connections_terminated_during_intake_polling_evaluation_and_delivery_lose_and_double_nothing(
    pg_url: str,
) -> None:
    store = open_store(pg_url)
    clock, source = FakeClock(), FakeSource("complaints")
    config = AppConfig(
        rules_dir=str(ROOT / "rules"), playbooks_dir=str(ROOT / "playbooks"), scoring=ScoringConfig(negative_below=0.3)
    )
    definitions = load_definitions(config, check_sources=False)
    with FakeSlackServer() as slack:
        channel = slack.channel_id("crisis")
        client = make_web_client("xoxb-test", base_url=slack.base_url, timeout=2)
        notifier = SlackNotifier(client, channel, min_interval=0, indexing_wait=0)
        wiring = build_engine(
            config,
            definitions,
            store,
            clock,
            scorer=FakeScorer(),
            sources={"complaints": source},
            notifiers={"slack": notifier},
            renderers={"slack": SlackRenderer()},
        )
        engine = wiring.engine
        api = ApiServer(make_api(store, clock, intake_source="intake")).start()
        try:
            # polling: the connection dies as the poll's items are stored
            surge(clock, source, 0, 12)
            assert kill_before(store, "add_items") == []
            added, failures = until_ok(lambda: engine.poll("complaints", force=True))
            assert added == 13 and failures >= 1  # failed, then fast failures during the 0.5 s backoff

            # intake: the connection dies under a POST; the client's retry is accepted once
            kill_before(store, "add_items")
            records = [{"id": f"in-{i}", "time": "2026-11-19T23:50:00+00:00", "text": "电暖器冒烟"} for i in range(5)]
            answers = []
            for _ in range(50):
                answer = httpx.post(
                    api.url + "/v1/complaints", json=records, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
                )
                answers.append(answer.status_code)
                if answer.status_code == 200:
                    break
                time.sleep(0.1)
            assert answers[0] == 503 and answers[-1] == 200 and answer.json()["accepted"] == 5

            # evaluation: the connection dies as the incident is opened
            opened = kill_before(store, "open_incident")
            for _ in range(4):
                until_ok(engine.evaluate)
                clock.advance(minutes=5)
            assert opened == [1] and len(store.incidents()) == 1

            # delivery: Slack accepts the alert, then the connection dies before it is marked sent
            kill_before(store, "mark_sent")
            with pytest.raises(DatabaseUnavailable):
                engine.deliver()
            clock.advance(seconds=3)  # past the lookup wait (2 s timeout + 0 s indexing)
            for _ in range(5):
                until_ok(engine.deliver)
                clock.advance(seconds=10)
        finally:
            api.close()
            wiring.close()
        top = [m for m in slack.messages if m.thread_ts is None]
        thread = [m for m in slack.messages if m.thread_ts is not None]
    try:
        incident = store.incidents()[0]
        assert store.item_count() == 13 + 5
        assert len(top) == 1, [m.text for m in top]
        assert [m.thread_ts for m in thread].count(top[0].ts) == len(thread)
        assert sum(1 for m in thread if m.text.startswith("Checklist for")) == 1
        assert {status for _, status in store.messages(incident.id)} == {"sent"}
        posted = [m for m in slack.messages if not m.files]  # the chart is an upload, not a post
        ids = [(m.metadata or {})["event_payload"]["outbox_id"] for m in posted]
        # each message once: the alert, its checklist and any update about later reports
        assert len(slack.calls("chat.postMessage")) == len(posted) == len(set(ids)) >= 2
    finally:
        store.close()


def test_a_locked_sqlite_file_fails_the_unit_of_work_and_heals_when_released(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = open_store(str(path), busy_timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseUnavailable) as caught:
            store.record_fetch("s", FakeClock().now(), error=None, items=1)
        assert str(path) in str(caught.value) and "lock" in str(caught.value)
        assert store.ping() is not None and "writes failing" in str(store.ping())
        other.execute("ROLLBACK")
        store.record_fetch("s", FakeClock().now(), error=None, items=1)
        assert store.ping() is None and [h.items_total for h in store.source_health()] == [1]
    finally:
        other.close()
        store.close()


ETAG = '"v1"'
FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    + "".join(f"<item><title>n{i}</title><guid>n-{i}</guid></item>" for i in range(3))
    + "</channel></rss>"
).encode()


def etag_feed(request: Request) -> Reply:
    if request.header("if-none-match") == ETAG:
        return Reply(304)
    return Reply(200, FEED, "application/rss+xml", {"ETag": ETAG})


def test_a_poll_whose_items_could_not_be_stored_fetches_them_again(tmp_path: Path) -> None:
    """The feed's ETag advanced in memory, the items were not stored: the next poll must not get a 304."""
    path = tmp_path / "feed.db"
    store = open_store(str(path), busy_timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    with HttpServer(etag_feed) as server:
        client = Outbound().client(AddressPolicy("127.0.0.1"), total=5)
        feed = FeedSource("news", server.url + "/rss", HttpFetcher(client, FetchPolicy(deadline=5)), kind="rss")
        engine = build_engine(
            AppConfig(),
            load_definitions(AppConfig(rules_dir=str(tmp_path)), check_sources=False),
            store,
            FakeClock(),
            scorer=FakeScorer(),
            sources={"news": feed},
            notifiers={},
        ).engine
        original = store.add_items

        def add_items_while_locked(*args: Any, **kwargs: Any) -> int:
            """Another process holds the write lock just when the poll's items are stored."""
            store.add_items = original  # type: ignore[method-assign]
            other.execute("BEGIN EXCLUSIVE")
            try:
                return original(*args, **kwargs)
            finally:
                other.execute("ROLLBACK")

        store.add_items = add_items_while_locked  # type: ignore[method-assign]
        try:
            with pytest.raises(DatabaseUnavailable):
                engine.poll("news", force=True)
            assert engine.poll("news", force=True) == 3
            assert engine.poll("news", force=True) == 0  # now a 304, rightly
        finally:
            other.close()
            store.close()


def test_the_outage_check_gives_up_after_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    store = open_store(str(path), busy_timeout=0.1)
    other = sqlite3.connect(path, isolation_level=None)
    check = store.outage_check(0.3)
    try:
        other.execute("BEGIN EXCLUSIVE")
        assert check() is None
        with pytest.raises(DatabaseUnavailable):
            store.record_fetch("s", FakeClock().now(), error=None, items=1)
        assert check() is None
        time.sleep(0.4)
        reason = check()
        assert reason is not None and str(path) in reason and "exiting" in reason
        other.execute("ROLLBACK")
        store.record_fetch("s", FakeClock().now(), error=None, items=1)
        assert check() is None
    finally:
        other.close()
        store.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_the_daemon_exits_1_when_postgresql_stays_away(tmp_path: Path) -> None:
    """The database stops accepting connections: after database_outage_limit the daemon exits 1, one line."""
    import psycopg

    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(SKIP_REASON)
    name = f"crisismon_outage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = base.rsplit("/", 1)[0] + f"/{name}"
    (tmp_path / "rules").mkdir()
    config = {
        "database": url,
        "database_outage_limit": "2s",
        "rules_dir": str(tmp_path / "rules"),
        "scoring": {"workers": 0},
        "notify": {"console": False},
        "deliver_every": "1s",
        "evaluate_every": "1s",
    }
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CRISISMON_DB"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "daemon.py"), "run", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        time.sleep(2.5)  # running
        assert proc.poll() is None
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s", (name,))
        stopped = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    text = err.decode(errors="replace")
    assert proc.returncode == 1, text[-2000:]
    assert "Traceback" not in text and f"error: PostgreSQL database {url}" in text.splitlines()[-1], text[-2000:]
    assert took < 10, took
