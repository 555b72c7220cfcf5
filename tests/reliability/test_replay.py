"""Signed Slack requests are not replayable (issue 13, point 7).

A validly signed ``show_checklist`` sent again within Slack's five-minute window is refused:
by the same daemon, after a restart, and by another daemon on the same database (two sent
at once to two daemons: exactly one is carried out). A 5,000-digit timestamp is a 401.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from monitor.http.api import ApiServer
from monitor.models import Evidence
from monitor.slack.signature import sign
from monitor.store import SqlStore, open_store
from monitor.testing import FakeClock

from ..store.conftest import POSTGRES_ENV, SKIP_REASON, fresh_postgres_schema
from .conftest import make_api

SECRET = "slack-signing-secret"


def open_incident(store: SqlStore, clock: FakeClock) -> int:
    incident = store.open_incident(
        rule_id="r",
        group="g",
        playbook="product_quality",
        title="t",
        severity="high",
        at=clock.now(),
        evidence=[Evidence("threshold", "count", 5.0, "1h")],
        top_items=[],
        checklist=[],
    )
    return incident.id


def signed_click(incident: int, clock: FakeClock, timestamp: str | None = None) -> tuple[bytes, dict[str, str]]:
    payload = {
        "type": "block_actions",
        "user": {"id": "U1", "username": "wangfang"},
        "actions": [{"action_id": "show_checklist", "value": json.dumps({"incident": incident})}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = timestamp or str(int(clock.now().timestamp()))
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(SECRET, stamp, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


def shown(store: SqlStore, incident: int) -> int:
    return sum(1 for e in store.timeline(incident) if e.kind == "checklist_shown")


def serve(store: SqlStore, clock: FakeClock) -> ApiServer:
    return ApiServer(make_api(store, clock, slack_secret=SECRET)).start()


def post(server: ApiServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server.url + "/slack/interactions", content=body, headers=headers, timeout=10)


def test_a_replayed_click_is_refused_now_and_after_a_restart(tmp_path: Path) -> None:
    url, clock = str(tmp_path / "d.db"), FakeClock()
    store = open_store(url)
    incident = open_incident(store, clock)
    body, headers = signed_click(incident, clock)
    server = serve(store, clock)
    try:
        assert post(server, body, headers).status_code == 200
        clock.advance(seconds=60)
        for _ in range(5):
            again = post(server, body, headers)
            assert again.status_code == 401 and "replay" in again.text
    finally:
        server.close()
        store.close()
    restarted = open_store(url)  # a restart: new process, same database
    server = serve(restarted, clock)
    try:
        assert post(server, body, headers).status_code == 401
        fresh_body, fresh_headers = signed_click(incident, clock)  # a new click is fine
        assert post(server, fresh_body, fresh_headers).status_code == 200
        assert shown(restarted, incident) == 2
    finally:
        server.close()
        restarted.close()


@pytest.mark.parametrize("stamp", ["9" * 5000, "1" * 13, "-1700000000", "1e9"])
def test_an_absurd_timestamp_is_refused_not_a_500(store: SqlStore, stamp: str) -> None:
    clock = FakeClock()
    body, headers = signed_click(open_incident(store, clock), clock, timestamp=stamp)
    server = serve(store, clock)
    try:
        answer = post(server, body, headers)
    finally:
        server.close()
    assert answer.status_code == 401 and "X-Slack-Request-Timestamp" in answer.text


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(SKIP_REASON)
    yield from fresh_postgres_schema(base)


def send(server: ApiServer, body: bytes, headers: dict[str, str], gate: threading.Barrier, codes: list[int]) -> None:
    gate.wait()
    codes.append(post(server, body, headers).status_code)


@pytest.mark.postgres
def test_two_daemons_on_one_database_carry_out_a_request_sent_to_both_once(pg_url: str) -> None:
    clock = FakeClock()
    stores = [open_store(pg_url), open_store(pg_url)]
    incident = open_incident(stores[0], clock)
    servers = [serve(s, clock) for s in stores]
    try:
        for _ in range(5):  # five clicks, each sent to both daemons at the same moment
            clock.advance(seconds=1)
            body, headers = signed_click(incident, clock)
            codes: list[int] = []
            gate = threading.Barrier(2)
            threads = [threading.Thread(target=send, args=(s, body, headers, gate, codes)) for s in servers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert sorted(codes) == [200, 401]
        assert shown(stores[0], incident) == 5
    finally:
        for server in servers:
            server.close()
        for s in stores:
            s.close()
