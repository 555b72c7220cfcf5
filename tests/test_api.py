"""The daemon's HTTP API over real HTTP: auth, operations, intake, Slack interactions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.http.api import Api, ApiServer
from monitor.incidents.ops import IncidentOps
from monitor.notify.render import TextRenderer
from monitor.runtime.engine import Engine
from monitor.runtime.readiness import watch_daemon
from monitor.slack.blocks import render_alert
from monitor.slack.signature import sign
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSource, RecordingNotifier

from .conftest import ROOT
from .test_engine import surge

TOKEN = "api-token"
SECRET = "slack-signing-secret"


class World:
    def __init__(self, store: SqlStore) -> None:
        config = AppConfig(
            rules_dir=str(ROOT / "rules"),
            playbooks_dir=str(ROOT / "playbooks"),
            scoring=ScoringConfig(negative_below=0.3),
        )
        definitions = load_definitions(config, check_sources=False)
        self.clock, self.source, self.notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
        self.store = store
        self.wiring = build_engine(
            config,
            definitions,
            store,
            self.clock,
            scorer=FakeScorer(),
            sources={"complaints": self.source},
            notifiers={"console": self.notifier},
            renderers={"console": TextRenderer()},
        )
        self.engine: Engine = self.wiring.engine
        ops = IncidentOps(store, {"console": TextRenderer()}, definitions.playbooks)
        self.api = Api(
            store=store,
            ops=ops,
            ingestor=self.engine.ingestor,
            metrics=self.engine.metrics,
            clock=self.clock,
            token=TOKEN,
            slack_secret=SECRET,
            max_body=20_000,
        )
        self.readiness = watch_daemon(self.api, store, self.clock, self.engine.metrics, self.wiring.health)
        self.server = ApiServer(self.api).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=10)
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    def open_incident(self) -> int:
        surge(self.clock, self.source, 0, 12)
        for _ in range(3):
            self.engine.cycle()
            self.clock.advance(minutes=5)
        return self.store.incidents()[0].id


@pytest.fixture
def world(store: SqlStore) -> Iterator[World]:
    w = World(store)
    yield w
    w.http.close()
    w.server.close()


def test_health_and_metrics_need_no_token(world: World) -> None:
    assert world.http.get("/healthz").json()["status"] == "ok"
    world.open_incident()
    metrics = world.http.get("/metrics").text
    assert 'crisismon_items_total{source="complaints"} 13.0' in metrics
    assert "crisismon_incidents_active 1" in metrics


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_the_api_refuses_requests_without_the_token(world: World, headers: dict[str, str]) -> None:
    response = world.http.get("/v1/incidents", headers=headers)
    assert response.status_code == 401 and "Bearer" in response.json()["error"]


def test_operations_over_http(world: World) -> None:
    incident_id = world.open_incident()

    def post(op: str, **body: object) -> httpx.Response:
        return world.http.post(f"/v1/incidents/{incident_id}/{op}", json=body, headers=world.auth)

    assert post("ack", by="王芳").json()["status"] == "acknowledged"
    item = world.store.incident(incident_id).checklist[0].item_id
    assert post("tick", by="李强", item=item).json()["checklist"][0]["done_by"] == "李强"
    bad = post("tick", by="李强", item="no-such-item")
    assert bad.status_code == 409 and "no checklist item 'no-such-item'" in bad.json()["error"]
    assert post("note", by="王芳", text="已发布致歉声明").status_code == 200
    assert post("ack").status_code == 400  # who?
    assert post("close", by="王芳").status_code == 409  # not resolved yet
    assert post("resolve", by="王芳").json()["status"] == "resolved"
    assert post("close", by="王芳").json()["status"] == "closed"
    review = world.http.get(f"/v1/incidents/{incident_id}/review", headers=world.auth)
    assert review.status_code == 200 and review.text.startswith(f"# Post-incident review: #{incident_id}")
    data = world.http.get(f"/v1/incidents/{incident_id}/review?format=json", headers=world.auth).json()
    assert data["status"] == "closed" and data["checklist"]["done"] == 1
    timeline = world.http.get(f"/v1/incidents/{incident_id}", headers=world.auth).json()["timeline"]
    assert [t["kind"] for t in timeline if t["actor"] != "crisismon"] == [
        "acknowledged",
        "ticked",
        "note",
        "resolved",
        "closed",
    ]
    assert world.http.get("/v1/incidents/999", headers=world.auth).status_code == 404


def record(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"W-{i}",
        "time": "2026-11-19T23:50:00Z",
        "category": "after_sales",
        "text": "退货一周了还没退款",
        "product": "暖居 K2 电热水壶",
        **extra,
    }


def test_intake_keeps_good_records_and_names_bad_ones(world: World) -> None:
    batch = [record(1), {"id": "W-2", "text": "no time"}, record(3)]
    response = world.http.post("/v1/complaints", json=batch, headers=world.auth)
    assert response.status_code == 422
    body = response.json()
    assert body["accepted"] == 2 and body["rejected"] == 1
    assert body["errors"] == [{"index": 1, "id": "W-2", "error": "id 'W-2': missing field(s) time"}]
    again = world.http.post("/v1/complaints", json={"complaints": [record(1)]}, headers=world.auth)
    assert again.status_code == 200 and again.json() == {
        "accepted": 0,
        "duplicates": 1,
        "rejected": 0,
        "errors": [],
    }
    assert world.store.item_count() == 2


def test_intake_refuses_oversized_bodies_and_non_json(world: World) -> None:
    big = world.http.post("/v1/complaints", content=b"x" * 30_000, headers=world.auth)
    assert big.status_code == 413
    junk = world.http.post("/v1/complaints", content=b"{nope", headers=world.auth)
    assert junk.status_code == 400 and "not JSON" in junk.json()["error"]


def slack_request(
    world: World, incident_id: int, action_id: str, *, age: int = 0, tamper: bool = False
) -> httpx.Response:
    incident = world.store.incident(incident_id)
    payload = render_alert(incident, rule_description="d", playbook_title="p", now=world.clock.now())
    element = next(
        e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id
    )
    interaction = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "wang.fang", "name": "wang.fang"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1"},
        "channel": {"id": "C1"},
        "actions": [{**element, "action_ts": "1.3"}],
    }
    body = urlencode({"payload": json.dumps(interaction)}).encode()
    timestamp = str(int(world.clock.now().timestamp()) - age)
    signature = sign(SECRET, timestamp, body)
    if tamper:
        body = body.replace(b"wang.fang", b"mallory00")
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return world.http.post("/slack/interactions", content=body, headers=headers)


def test_slack_acknowledge_button_lands_in_the_timeline_with_the_slack_user(world: World) -> None:
    incident_id = world.open_incident()
    assert slack_request(world, incident_id, "ack").status_code == 200
    incident = world.store.incident(incident_id)
    assert incident.status.value == "acknowledged"
    assert incident.acknowledged_by == "wang.fang (slack:U024BE7LH)"


@pytest.mark.parametrize(("age", "tamper"), [(600, False), (0, True)], ids=["expired", "tampered"])
def test_slack_requests_with_bad_signatures_are_refused(world: World, age: int, tamper: bool) -> None:
    incident_id = world.open_incident()
    assert slack_request(world, incident_id, "ack", age=age, tamper=tamper).status_code == 401
    assert world.store.incident(incident_id).status.value == "open"


def test_socket_mode_payloads_take_the_same_path_as_http(world: World) -> None:
    from monitor.slack.interactions import action_from_payload

    incident_id = world.open_incident()
    incident = world.store.incident(incident_id)
    payload = render_alert(incident, rule_description="d", playbook_title="p", now=world.clock.now())
    ack = next(e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "ack")
    interaction = {
        "type": "block_actions",
        "user": {"id": "U0SOCKET1", "username": "li.qiang", "name": "li.qiang"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1"},
        "channel": {"id": "C1"},
        "actions": [{**ack, "action_ts": "1.3"}],
    }
    assert world.api.perform(action_from_payload(interaction)) is None
    assert world.store.incident(incident_id).acknowledged_by == "li.qiang (slack:U0SOCKET1)"
    refused = world.api.perform(action_from_payload(interaction))  # twice: refused with the reason
    assert refused is not None and "only an open incident can be acknowledged" in refused
