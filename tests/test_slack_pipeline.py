"""The whole pipeline posting to Slack: the real slack-sdk WebClient against a local fake API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, NotifyConfig, ScoringConfig, SlackConfig
from monitor.runtime.engine import Engine
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSlackServer, FakeSource

from .conftest import ROOT
from .test_engine import surge

CHANNEL = "C0CRISIS01"


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


def slack_engine(store: SqlStore, slack: FakeSlackServer) -> tuple[Engine, FakeClock, FakeSource]:
    config = AppConfig(
        notify=NotifyConfig(slack=SlackConfig(min_interval=0)),
        rules_dir=str(ROOT / "rules"),
        playbooks_dir=str(ROOT / "playbooks"),
        scoring=ScoringConfig(negative_below=0.3),
    )
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_CHANNEL": CHANNEL,
        "CRISISMON_SLACK_API_URL": slack.base_url,
    }
    clock, source = FakeClock(), FakeSource("complaints")
    engine = build_engine(
        config,
        load_definitions(config, check_sources=False),
        store,
        clock,
        scorer=FakeScorer(),
        sources={"complaints": source},
        env=env,
    ).engine
    return engine, clock, source


def open_incident(engine: Engine, clock: FakeClock, source: FakeSource) -> None:
    surge(clock, source, 0, 12)
    for _ in range(3):
        engine.poll("complaints")
        engine.evaluate()
        engine.deliver()
        clock.advance(minutes=5)


def test_an_incident_posts_an_alert_and_threads_its_checklist(store: SqlStore, slack: FakeSlackServer) -> None:
    engine, clock, source = slack_engine(store, slack)
    open_incident(engine, clock, source)
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 2
    alert, checklist = posts
    assert alert.body["channel"] == CHANNEL and "thread_ts" not in alert.body
    assert "SEV2" in alert.body["text"]
    blocks = alert.body["blocks"]
    if isinstance(blocks, str):
        import json

        blocks = json.loads(blocks)
    flat = str(blocks)
    assert "count 12 in 1h vs baseline" in flat
    assert {"ack", "show_checklist"} <= {
        e.get("action_id") for b in blocks if b["type"] == "actions" for e in b["elements"]
    }
    (stored_alert,) = [m for m in slack.messages if m.thread_ts is None]
    assert checklist.body["thread_ts"] == stored_alert.ts
    assert "确认" in str(checklist.body["blocks"]) or "核实" in str(checklist.body["blocks"])
    (chart,) = slack.files  # the metric chart, uploaded into the alert's thread
    assert chart.data is not None
    assert chart.data.startswith(b"\x89PNG") and chart.thread_ts == stored_alert.ts
    assert store.outbox_counts() == {"sent": 5}  # console: alert and checklist; Slack: those and the chart


def test_a_30_minute_outage_delivers_everything_once_in_order(store: SqlStore, slack: FakeSlackServer) -> None:
    engine, clock, source = slack_engine(store, slack)
    slack.fail_next("chat.postMessage", 1000, error="internal_error")
    open_incident(engine, clock, source)
    surge(clock, source, 100, 40)  # growth during the outage: severity update and alert edit
    engine.poll("complaints")
    engine.evaluate()
    outage_end = clock.now() + timedelta(minutes=30)
    while clock.now() < outage_end:
        engine.deliver()
        clock.advance(minutes=1)
    failed_tries = len(slack.calls("chat.postMessage"))
    assert failed_tries >= 3 and not slack.messages  # retried with backoff, nothing got through
    slack._scripts.clear()  # Slack is back
    for _ in range(20):
        clock.advance(minutes=5)
        engine.deliver()
    slack_rows = [(m.kind, status) for m, status in store.messages() if m.destination == "slack"]
    assert all(status == "sent" for _, status in slack_rows)
    assert [kind for kind, _ in slack_rows][:2] == ["alert", "checklist"]
    top = [m for m in slack.messages if m.thread_ts is None]
    assert len(top) == 1, "exactly one top-level alert, never a duplicate"
    assert top[0].edits >= 1 and "SEV1" in top[0].text  # edited in place to show the new severity
    threaded = [m for m, _ in store.messages() if m.destination == "slack" and m.thread_of is not None]
    replies = [m for m in slack.messages if m.thread_ts == top[0].ts]
    assert len(replies) == len(threaded) >= 2  # checklist, severity update, reminders: each once
    delivered = [c.body["text"] for c in slack.calls("chat.postMessage")[failed_tries:]]
    posted = [m for m, _ in store.messages() if m.destination == "slack" and m.update_of is None]
    assert delivered == [m.payload["text"] for m in posted if m.kind != "chart"]
    assert len(slack.files) == sum(m.kind == "chart" for m in posted) == 1


def test_rate_limit_retry_after_is_honoured(store: SqlStore, slack: FakeSlackServer) -> None:
    engine, clock, source = slack_engine(store, slack)
    slack.fail_next("chat.postMessage", 1, error="ratelimited", retry_after=120)
    surge(clock, source, 0, 12)
    for _ in range(3):
        engine.poll("complaints")
        engine.evaluate()
        clock.advance(minutes=5)
    engine.deliver()  # 429, Retry-After: 120
    assert len(slack.calls("chat.postMessage")) == 1 and not slack.messages
    clock.advance(seconds=100)
    engine.deliver()
    assert len(slack.calls("chat.postMessage")) == 1  # still waiting, as Slack asked
    clock.advance(seconds=21)
    engine.deliver()
    assert len([m for m in slack.messages if m.thread_ts is None]) == 1
