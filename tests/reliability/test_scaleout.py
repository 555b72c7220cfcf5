"""Three daemons on one PostgreSQL database; one is killed mid-delivery (kill -9).

The proof the PostgreSQL issue asks for: a local CRM feed replays a burst of complaints in
real time, the fake Slack Web API receives the posts, three ``daemon.py run`` processes
share the work. When the alert's post is in flight, the daemon sending it is killed. The
others take its sources, rules and the Slack destination over; at the end there is exactly
one incident, one top-level alert post, its complete checklist in the thread, and every
item was stored once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import SystemClock
from monitor.demo.scenario import Event
from monitor.demo.server import ScenarioServer
from monitor.store import SqlStore, open_store
from monitor.testing import FakeSlackServer

from ..conftest import ROOT

POSTGRES_ENV = "CRISISMON_TEST_POSTGRES_URL"
CHANNEL = "C0CRISIS1"
PRODUCT = "暖居 X3 电暖器"
RULE = """
rules:
  - id: scaleout-quality
    description: 产品质量投诉激增 / Product-quality complaints surging
    playbook: product_quality
    sources: [crm]
    match: {categories: [product_quality]}
    group_by: [product]
    window: 5m
    bucket: 10s
    condition:
      threshold: {metric: count, op: ">=", value: 6}
    for: 2s
    keep_firing_for: 10m
    severity: {default: high}
"""

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL tests")
    import psycopg

    schema = f"crisismon_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def complaints(start: datetime) -> list[Event]:
    burst = [
        Event(
            "complaints",
            start + timedelta(seconds=6 + i),
            f"burst-{i}",
            f"暖居 X3 电暖器用了两天就冒烟，插头烧焦了，质量太差 #{i}",
            category="product_quality",
            product=PRODUCT,
            region="杭州",
        )
        for i in range(10)
    ]
    late = [  # after the kill: proves that polling went on elsewhere
        Event(
            "complaints",
            start + timedelta(seconds=30 + i),
            f"late-{i}",
            f"电暖器外壳发烫，担心起火 #{i}",
            category="product_quality",
            product=PRODUCT,
            region="上海",
        )
        for i in range(3)
    ]
    return burst + late


def write_config(tmp: Path, url: str, feed: str) -> Path:
    (tmp / "rules").mkdir()
    (tmp / "rules" / "scaleout.yaml").write_text(RULE, encoding="utf-8")
    config = {
        "database": url,
        "rules_dir": str(tmp / "rules"),
        "playbooks_dir": str(ROOT / "playbooks"),
        "sources": [
            {"type": "complaints_api", "name": "crm", "url": f"{feed}/api/complaints", "interval": "1s"},
            *({"type": "rss", "name": f"news{i}", "url": f"{feed}/news/rss.xml", "interval": "1s"} for i in range(5)),
        ],
        "scoring": {"workers": 0},
        "notify": {"console": False, "slack": {"channel": CHANNEL, "timeout": 2, "indexing_wait": 1}},
        "incidents": {"check_every": "1s"},
        "evaluate_every": "1s",
        "deliver_every": "1s",
    }
    path = tmp / "crisismon.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


def start_daemon(config: Path, slack: FakeSlackServer, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-scaleout",
        "CRISISMON_SLACK_API_URL": slack.base_url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CRISISMON_DB", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "daemon.py"), "run", "--config", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=log.parent,
    )


def wait_for(what: str, check: object, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in logs)
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def delivered(store: SqlStore) -> bool:
    incidents = store.incidents()
    if not incidents:
        return False
    statuses = {(m.kind, status) for m, status in store.messages(incidents[0].id)}
    return {("alert", "sent"), ("checklist", "sent")} <= statuses and all(s == "sent" for _, s in statuses)


def test_three_daemons_one_killed_mid_delivery_give_one_incident_and_one_alert(tmp_path: Path, pg_url: str) -> None:
    start = SystemClock().now()
    events = complaints(start)
    open_store(pg_url).close()  # migrate once, before the daemons start
    store = open_store(pg_url)
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"daemon{i}.log" for i in range(3)]
    try:
        with ScenarioServer(events, SystemClock()) as feed, FakeSlackServer() as slack:
            config = write_config(tmp_path, pg_url, feed.base_url)
            slack.delay_next("chat.postMessage", 1.5)  # the first post (the alert) stays in flight
            procs = [start_daemon(config, slack, log) for log in logs]

            wait_for("the alert's post", lambda: slack.calls("chat.postMessage"), 40, logs)
            (deliverer,) = store.leases("deliver:slack")
            pid = int(deliverer.owner.rsplit(":", 2)[1])
            victim = next(p for p in procs if p.pid == pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed_at = time.monotonic()

            wait_for("the checklist in the thread", lambda: delivered(store), 30, logs)
            takeover = time.monotonic() - killed_at
            wait_for("the late complaints", lambda: store.item_count() == len(events), 25, logs)

            survivors = [p for p in procs if p is not victim]
            for p in survivors:
                p.send_signal(signal.SIGTERM)
            for p in survivors:
                assert p.wait(timeout=20) == 0, logs
            top_level = [m for m in slack.messages if m.thread_ts is None]
            replies = [m for m in slack.messages if m.thread_ts is not None]
            posts = slack.calls("chat.postMessage")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    incidents = store.incidents()
    try:
        assert len(incidents) == 1, incidents
        incident = incidents[0]
        assert incident.group == f"product={PRODUCT}"
        # one alert at the top of the channel: the victim's in-flight post, found, not repeated
        assert len(top_level) == 1 and "Checklist" not in top_level[0].text, [m.text for m in top_level]
        assert sum(1 for r in posts if not r.body.get("thread_ts")) == 1
        alert_ts = top_level[0].ts
        (alert_id,) = [m.id for m, _ in store.messages(incident.id) if m.kind == "alert" and m.update_of is None]
        assert store.message_ref(alert_id) == (alert_ts, "sent")
        # the complete checklist in the alert's thread, once
        thread = [m for m in replies if m.thread_ts == alert_ts]
        checklists = [m for m in thread if m.text.startswith("Checklist for")]
        assert len(checklists) == 1, [m.text for m in thread]
        block_ids = {str(b.get("block_id")) for b in checklists[0].blocks if isinstance(b, dict)}
        assert {f"tick:{incident.id}:{e.item_id}" for e in incident.checklist} <= block_ids
        # taken over within two lease periods of the deliverer (3 x deliver_every = 3 s), plus the
        # wait before an unfinished post is looked up (slack timeout 2 s + indexing wait 1 s)
        assert takeover <= 2 * 3 + (2 + 1) + 1.5, takeover
        posted = [(m.kind, status) for m, status in store.messages(incident.id) if m.update_of is None]
        assert posted.count(("alert", "sent")) == 1 and posted.count(("checklist", "sent")) == 1
        sent = [e.detail for e in store.timeline(incident.id) if e.kind == "message_sent"]
        assert next(d["ref"] for d in sent if d["kind"] == "alert") == alert_ts
        # every item stored once, including those published after the kill
        assert store.item_count() == len(events)
        for log in logs:
            assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]
    finally:
        store.close()
