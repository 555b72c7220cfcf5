"""/metrics (prometheus-client, checked by promtool when present), /healthz and /readyz over HTTP."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitor.runtime.metrics import Metrics
from monitor.store import SqlStore

from .test_api import World


@pytest.fixture
def world(store: SqlStore) -> Iterator[World]:
    w = World(store)
    yield w
    w.http.close()
    w.server.close()


FAMILIES = [
    "crisismon_items_total",
    "crisismon_polls_total",
    "crisismon_source_errors_total",
    "crisismon_source_up",
    "crisismon_source_last_success_timestamp_seconds",
    "crisismon_poll_duration_seconds_bucket",
    "crisismon_rule_evaluation_seconds_bucket",
    "crisismon_alert_latency_seconds_bucket",
    "crisismon_outbox_messages",
    "crisismon_outbox_oldest_pending_age_seconds",
    "crisismon_delivery_attempts_total",
    "crisismon_incidents",
    "crisismon_build_info",
]


def series(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_every_series_is_there_before_the_first_event(world: World) -> None:
    text = world.http.get("/metrics").text
    for family in FAMILIES:
        assert family in text, family
    values = series(text)
    assert values['crisismon_items_total{source="complaints"}'] == 0
    assert values['crisismon_polls_total{outcome="failed",source="complaints"}'] == 0
    assert values['crisismon_delivery_attempts_total{destination="console",result="sent"}'] == 0
    assert values['crisismon_rule_evaluation_seconds_count{rule="product-quality-complaint-surge"}'] == 0
    assert values['crisismon_incidents{severity="critical",status="open"}'] == 0
    assert values['crisismon_source_up{source="complaints"}'] == 1


def test_metrics_follow_what_the_daemon_does(world: World) -> None:
    world.open_incident()
    values = series(world.http.get("/metrics").text)
    assert values['crisismon_items_total{source="complaints"}'] == 13
    assert values['crisismon_polls_total{outcome="ok",source="complaints"}'] == 3
    assert values['crisismon_poll_duration_seconds_count{source="complaints"}'] == 3
    assert values['crisismon_rule_evaluation_seconds_count{rule="product-quality-complaint-surge"}'] == 3
    assert values["crisismon_alert_latency_seconds_count"] == 1
    assert values["crisismon_incidents_active"] == 1
    assert sum(v for k, v in values.items() if k.startswith("crisismon_incidents{") and 'status="open"' in k) == 1
    assert values['crisismon_delivery_attempts_total{destination="console",result="sent"}'] >= 2
    assert values['crisismon_source_last_success_timestamp_seconds{source="complaints"}'] > 0
    assert values['crisismon_build_info{python="' + _python() + '",version="0.1.0"}'] == 1


def _python() -> str:
    import platform

    return platform.python_version()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian package prometheus)")
def test_promtool_accepts_the_exposition(world: World) -> None:
    world.open_incident()
    text = world.http.get("/metrics").content
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_counters_other_modules_invent_still_count() -> None:
    metrics = Metrics()
    metrics.inc("widgets_total", 2, kind="a")
    metrics.inc("widgets_total", 1, shape="b")  # wrong labels: logged, not raised, not exported
    assert metrics.get("widgets_total", kind="a") == 2
    assert 'crisismon_widgets_total{kind="a"} 2.0' in metrics.exposition()
    with pytest.raises(ValueError, match="cannot go down"):
        metrics.inc("items_total", -1, source="x")


# -- /healthz and /readyz ------------------------------------------------------------------------


def test_healthz_is_alive_and_readyz_waits_for_the_scheduler(world: World) -> None:
    assert world.http.get("/healthz").json()["status"] == "ok"
    response = world.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["scheduler: the scheduler has not started yet"]
    world.readiness.scheduler_running = lambda: True
    response = world.http.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["database"]["ok"] is True


def test_readyz_names_a_source_down_and_a_stuck_outbox(world: World) -> None:
    world.readiness.scheduler_running = lambda: True
    world.source.fail_with = "connection refused"
    for _ in range(3):
        world.engine.poll("complaints", force=True)
    world.store.enqueue("nowhere", "admin", {"text": "waits forever"}, now=world.clock.now())
    world.clock.advance(minutes=16)
    body = world.http.get("/readyz").json()
    assert body["status"] == "not ready"
    assert any(p.startswith("sources: complaints is down: 3 failed polls") for p in body["problems"]), body
    assert any(p.startswith("outbox: the oldest waiting message was queued 16 min ago") for p in body["problems"])


def test_readyz_says_when_the_database_is_gone(world: World) -> None:
    world.readiness.scheduler_running = lambda: True
    world.store.close()
    response = world.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
    assert "does not answer" in response.json()["checks"]["database"]["detail"]


def test_a_scheduler_that_stopped_is_not_ready(world: World) -> None:
    world.readiness.scheduler_running = lambda: False
    world.clock.advance(timedelta(minutes=1))
    assert "scheduler: the scheduler is not running" in world.http.get("/readyz").json()["problems"]
