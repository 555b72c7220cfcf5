"""Escalation: per-severity timeouts and chains, a DM to the next person, the pager webhook;
and the incoming-webhook mode of Slack."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config.settings import load_config
from monitor.errors import ConfigError
from monitor.store import SqlStore
from monitor.testing import FakeSlackServer

from .conftest import ROOT
from .slack_world import CHANNEL, slack_world
from .test_engine import surge


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


def dms(slack: FakeSlackServer) -> list[str]:
    return [c.body["text"] for c in slack.calls("chat.postMessage") if c.body["channel"].startswith("U")]


def thread_texts(slack: FakeSlackServer) -> list[str]:
    return [c.body["text"] for c in slack.calls("chat.postMessage") if c.body["channel"] == CHANNEL]


ESCALATION = {
    "escalation": {
        "critical": {"ack_timeout": "5m"},
        "high": {"ack_timeout": "15m", "chain": ["management", "crisis_lead"]},
    }
}


def step(world, minutes: int) -> None:  # type: ignore[no-untyped-def]
    world.clock.advance(minutes=minutes)
    world.engine.check_sla()
    world.engine.deliver()


def test_a_high_incident_escalates_after_its_own_timeout_along_its_own_chain(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    world = slack_world(store, slack, tmp_path, incidents=ESCALATION)
    world.open_incident()  # opened 5 minutes ago: a high incident
    [incident] = store.incidents()
    assert incident.severity == "high"
    step(world, 9)  # 14 minutes
    assert dms(slack) == []
    step(world, 1)  # 15 minutes: the first of the chain, management (赵总)
    assert any("escalating to management (赵总)" in t for t in thread_texts(slack))
    [dm] = [c for c in slack.calls("chat.postMessage") if c.body["channel"] == "U0BOSS001"]
    assert f"Incident #{incident.id} needs you (management)" in dm.body["text"]
    assert "thread_ts" not in dm.body
    step(world, 15)  # 30 minutes: crisis_lead next
    needs = f"Incident #{incident.id} needs you"
    assert [t.split(":")[0] for t in dms(slack)] == [f"{needs} (management)", f"{needs} (crisis_lead)"]
    assert store.messages(incident.id)[-1][0].kind == "dm"


def test_a_chinese_team_is_paged_in_chinese_with_role_names(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_CHANNEL": CHANNEL,
        "CRISISMON_SLACK_API_URL": slack.base_url,
        "PAGER_URL": slack.webhook_url,
    }
    incidents = {**ESCALATION, "escalation_webhook": {"url_env": "PAGER_URL"}}
    settings = {"locale": "zh-CN", "timezone": "Asia/Shanghai"}
    world = slack_world(store, slack, tmp_path, incidents=incidents, env=env, settings=settings)
    world.open_incident()
    [incident] = store.incidents()
    step(world, 10)  # 15 minutes: 管理层 (赵总)
    assert any("15 分钟未确认：升级给 管理层 (赵总)" in t for t in thread_texts(slack)), thread_texts(slack)
    [dm] = [c for c in slack.calls("chat.postMessage") if c.body["channel"] == "U0BOSS001"]
    assert dm.body["text"].startswith(f"事件 #{incident.id} 需要你处理（管理层）：")
    body = dm.body["blocks"][0]["text"]["text"]
    assert "已确认" not in body and "未确认" in body and "请在事件线程中确认" in body
    assert "needs you" not in json.dumps(dm.body) and "management" not in body
    [page] = slack.calls("webhook")
    sent = json.loads(page.raw)
    assert sent["role"] == "management" and sent["text"] == "15 分钟未确认：升级给 管理层 (赵总)"
    step(world, 15)  # 30 minutes: 危机负责人 (王芳)
    assert any("升级给 危机负责人 (王芳)" in t for t in thread_texts(slack))
    assert [t.split("（")[1].split("）")[0] for t in dms(slack)] == ["管理层", "危机负责人"]


def test_what_the_daemon_says_in_the_thread_follows_the_locale(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    world = slack_world(store, slack, tmp_path, settings={"locale": "zh-CN", "timezone": "Asia/Shanghai"})
    world.open_incident()
    surge(world.clock, world.source, 100, 40)  # grows: severity raised, new items
    for minutes in [5] * 3 + [10] * 30:  # then quiet: the rule stops firing
        world.engine.poll("complaints")
        world.engine.evaluate()
        world.engine.deliver()
        world.clock.advance(minutes=minutes)
    said = "\n".join(thread_texts(slack))
    assert "严重程度升至 SEV1 (危急)：count 在 1h 内为" in said and "项新增清单项" in said
    assert "来自 complaints 的新相关内容" in said and "规则已不再触发" in said
    for english in ("severity raised", "new matching item", "no longer firing", " in 1h vs baseline"):
        assert english not in said, english


def test_overdue_reminders_name_roles_and_items_in_the_locale(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    settings = {"locale": "zh-CN", "timezone": "Asia/Shanghai"}
    world = slack_world(store, slack, tmp_path, incidents={"direct_messages": False}, settings=settings)
    world.open_incident()
    [incident] = store.incidents()
    lead_item = next(e for e in incident.checklist if e.owner == "crisis_lead")
    step(world, 600)  # ten hours: every early item overdue
    [reminder] = [t for t in thread_texts(slack) if "项逾期：" in t][:1]
    assert f"• {lead_item.text} — 危机负责人 (王芳)，截止 " in reminder and "CST" in reminder
    assert lead_item.text_en not in reminder and "crisis_lead" not in reminder


def test_without_direct_messages_only_the_thread_hears(store: SqlStore, slack: FakeSlackServer, tmp_path: Path) -> None:
    world = slack_world(store, slack, tmp_path, incidents={**ESCALATION, "direct_messages": False})
    world.open_incident()
    step(world, 10)
    assert any("escalating to management" in t for t in thread_texts(slack)) and dms(slack) == []


def test_the_pager_webhook_gets_generic_json_at_each_step(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_CHANNEL": CHANNEL,
        "CRISISMON_SLACK_API_URL": slack.base_url,
        "PAGER_URL": slack.webhook_url,
    }
    incidents = {**ESCALATION, "escalation_webhook": {"url_env": "PAGER_URL", "timeout": "5s"}}
    world = slack_world(store, slack, tmp_path, incidents=incidents, env=env)
    world.open_incident()
    [incident] = store.incidents()
    step(world, 10)
    [page] = slack.calls("webhook")
    body = json.loads(page.raw)
    assert body["event"] == "incident.escalated" and (body["level"], body["role"], body["person"]) == (
        1,
        "management",
        "赵总",
    )
    assert body["incident"]["id"] == incident.id and body["incident"]["severity"] == "high"
    [page_id] = [m.id for m, _ in store.messages(incident.id) if m.kind == "page"]
    assert page.headers["idempotency-key"] == f"crisismon-page-{page_id}"


def test_a_failing_pager_is_retried(store: SqlStore, slack: FakeSlackServer, tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "x", "SLACK_CHANNEL": CHANNEL, "CRISISMON_SLACK_API_URL": slack.base_url}
    env["PAGER_URL"] = slack.webhook_url
    incidents = {**ESCALATION, "escalation_webhook": {"url_env": "PAGER_URL"}}
    world = slack_world(store, slack, tmp_path, incidents=incidents, env=env)
    world.open_incident()
    slack.fail_next("webhook", 1, status=503)
    step(world, 10)
    assert [s for m, s in store.messages() if m.kind == "page"] == ["pending"]
    step(world, 1)
    assert [s for m, s in store.messages() if m.kind == "page"] == ["sent"]


@pytest.mark.parametrize(
    ("yaml", "field", "expected"),
    [
        ("  escalation:\n    urgent: {ack_timeout: 5m}\n", "incidents.escalation.urgent", "'low'"),
        ("  escalation:\n    high: {ack_timeout: 0s}\n", "incidents.escalation.high.ack_timeout", "above zero"),
        ("  escalation:\n    high: {ack_timeout: 5m, chain: [boss]}\n", "incidents.escalation.high.chain", "roles"),
        ("  escalation_webhook: {url: http://x}\n", "incidents.escalation_webhook.url", "unknown field 'url'"),
    ],
)
def test_check_names_bad_escalation_settings(tmp_path: Path, yaml: str, field: str, expected: str) -> None:
    path = tmp_path / "crisismon.yaml"
    path.write_text(f"rules_dir: {ROOT / 'rules'}\nincidents:\n" + yaml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.field == field and expected in str(problem), str(problem)


def test_webhook_mode_posts_alerts_and_says_what_it_cannot_do(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = slack_world(store, slack, tmp_path, incidents=ESCALATION, env={"SLACK_WEBHOOK_URL": slack.webhook_url})
    assert "incoming-webhook mode (SLACK_WEBHOOK_URL)" in caplog.text
    assert "threads, edits in place, charts" in caplog.text and "buttons are left out" in caplog.text
    world.open_incident()
    posts = [json.loads(c.raw) for c in slack.calls("webhook")]
    assert posts[0]["text"].startswith("SEV2 (high)") and "Checklist for #1" in posts[1]["text"]
    flat = json.dumps([p.get("blocks") for p in posts])
    assert '"actions"' not in flat and '"button"' not in flat and '"checkboxes"' not in flat
    step(world, 10)  # an escalation: in the webhook's channel, no DM there
    texts = [json.loads(c.raw)["text"] for c in slack.calls("webhook")]
    assert any("escalating to management" in t for t in texts)
    assert not any("needs you" in t for t in texts)
    assert slack.calls("chat.postMessage") == []


def test_a_reload_applies_new_escalation_timeouts(tmp_path: Path, store: SqlStore) -> None:
    from .test_reload_config import Daemon

    daemon = Daemon(tmp_path, store)
    try:
        text = daemon.path.read_text(encoding="utf-8").replace(
            "incidents: {ack_timeout: 15m}", "incidents: {ack_timeout: 15m, escalation: {critical: {ack_timeout: 5m}}}"
        )
        daemon.path.write_text(text, encoding="utf-8")
        assert daemon.reloader.reload() is True
        policy = daemon.engine.sla.policy
        assert policy.steps("critical", ("crisis_lead",)).timeout.total_seconds() == 300
        assert policy.steps("medium", ("crisis_lead",)).timeout.total_seconds() == 900
    finally:
        daemon.close()


def test_webhook_mode_keeps_buttons_when_clicks_can_be_received(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    env = {"SLACK_WEBHOOK_URL": slack.webhook_url, "SLACK_SIGNING_SECRET": "s3cret"}
    world = slack_world(store, slack, tmp_path, env=env)
    world.open_incident()
    alert = json.loads(slack.calls("webhook")[0].raw)
    assert any(b["type"] == "actions" for b in alert["blocks"])
