"""locale: zh-CN and timezone: Asia/Shanghai across Slack messages, modals, ephemeral replies."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from monitor.notify.i18n import Lang
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore
from monitor.testing import FakeSlackServer
from monitor.testing.fakeslack import StoredMessage

from .world import LEAD, LEGAL, SPOKES, STRANGER, World, option_value, text_value, user_value


def test_chinese_team_sees_chinese_labels_and_shanghai_times(zh_world: World) -> None:
    world = zh_world
    incident_id = world.open_incident()
    world.deliver()
    alert = world.fake.messages[0]
    labels = [e["text"]["text"] for b in alert.blocks if b["type"] == "actions" for e in b["elements"] if "text" in e]
    assert labels[:3] == ["确认", "解决", "关闭"]
    assert "*状态:* 🔔 未确认" in str(alert.blocks) and "CST" in str(alert.blocks)
    world.click(LEAD, "ack", {"incident": incident_id})
    world.click(LEAD, "status_update", {"incident": incident_id})
    view = world.last_view("status_update")
    assert view["title"]["text"] == "状态更新" and view["submit"]["text"] == "提交"
    world.submit(LEAD, view, {"text": text_value("退货通道已开通")})
    world.deliver()
    texts = [m.text for m in world.fake.messages]
    assert any("王芳 已确认" in t for t in texts) and any("状态更新（王芳）：退货通道已开通" in t for t in texts)
    assert not any("acknowledged by" in t for t in texts)
    listed = world.command(LEAD, "list").json()["text"]
    assert listed.startswith("进行中的事件（1）") and "已确认" in listed and "CST" in listed
    refusal = world.command(STRANGER, "list").json()["text"]
    assert refusal.startswith("你不在值班名单")


def test_chinese_draft_uses_the_chinese_template(zh_world: World) -> None:
    world = zh_world
    incident_id = world.open_incident()
    world.deliver()
    world.click(LEAD, "draft", world.button_value(incident_id, "draft") | {"kind": "holding"}, select=True)
    view = world.last_view("draft")
    text = next(b for b in view["blocks"] if b.get("block_id") == "text")["element"]["initial_value"]
    assert text.startswith("示例电器已关注到") and "400-800-1234" in text
    assert view["title"]["text"] == "起草声明"


def test_console_output_follows_the_locale_and_time_zone() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify"))
    from slack_sample import NOW, sample_incident

    from monitor.notify.i18n import Lang
    from monitor.notify.render import TextRenderer

    incident = sample_incident()
    zh = TextRenderer(Lang("zh-CN", "Asia/Shanghai"))
    alert = zh.alert(incident, rule_description="激增", playbook_title="产品质量事故应对", now=NOW)["text"]
    assert alert.startswith("=== 危机告警 #42") and "状态: 未确认" in alert and "2024-05-01 17:40 CST" in alert
    checklist = zh.checklist(incident, playbook_title="产品质量事故应对", now=NOW)["text"]
    assert "负责: 客服" in checklist and "已逾期" in checklist and "For every report" not in checklist
    for english in (" via ", " by ", "item(s)", "by source", "rising terms", "top authors", "followers"):
        assert english not in alert, english
    assert "×37 份，来自 news, weibo 作者 数码博主老李" in alert and "262 条内容，118 个话题" in alert
    update = zh.update(incident, "15 分钟未确认", notify=["crisis_lead"])["text"]
    assert update.endswith("15 分钟未确认 (提醒: 危机负责人)")
    en = TextRenderer(Lang("en", "UTC")).alert(incident, rule_description="spike", playbook_title="p", now=NOW)["text"]
    assert en.startswith("=== CRISIS ALERT #42") and "opened: 2024-05-01 09:40 UTC" in en


@pytest.mark.parametrize(
    ("lang", "shown", "hidden"),
    [
        (Lang("zh-CN", "Asia/Shanghai"), ("☑ 凡涉及冒烟",), "For every report"),
        (Lang("en", "UTC"), ("☑ For every report",), "凡涉及冒烟"),
        (Lang("zh-CN", "Asia/Shanghai", bilingual=True), ("☑ 凡涉及冒烟", "。 / For every report"), None),
    ],
)
def test_ticks_name_the_item_in_the_locale_and_both_when_bilingual(
    store: SqlStore, fake: FakeSlackServer, lang: Lang, shown: tuple[str, ...], hidden: str | None
) -> None:
    world = World(store, fake, lang=lang)
    try:
        incident_id = world.open_incident()
        item = world.incident(incident_id).checklist[0].item_id
        world.click(LEAD, "tick", {"incident": incident_id, "item": item, "op": "tick"})
        world.deliver()
        [tick] = [m.text for m in fake.messages if m.text.startswith(f"#{incident_id}") and "☑" in m.text]
        assert all(part in tick for part in shown) and "— 王芳" in tick, tick
        assert hidden is None or hidden not in tick, tick
    finally:
        world.close()


def _checklist(fake: FakeSlackServer) -> StoredMessage:
    """The checklist message as the fake Slack holds it now (edits applied)."""
    return next(m for m in fake.messages if any(b.get("block_id", "").startswith("tick:") for b in m.blocks))


@pytest.mark.parametrize(
    ("lang", "commander", "owner", "console_lines"),
    [
        (
            Lang("zh-CN", "Asia/Shanghai"),
            "*事件指挥:* 刘洋",
            "👤 陈律师 (质量)",
            ("事件指挥: 刘洋", "负责: 陈律师 (质量)"),
        ),
        (Lang("en", "UTC"), "*Commander:* 刘洋", "👤 陈律师 (quality)", ("commander: 刘洋", "owner: 陈律师 (quality)")),
    ],
)
def test_the_checklist_shows_the_assigned_commander_and_owners(
    store: SqlStore, fake: FakeSlackServer, lang: Lang, commander: str, owner: str, console_lines: tuple[str, str]
) -> None:
    world = World(store, fake, lang=lang)
    try:
        incident_id = world.open_incident()
        world.deliver()
        before = json.dumps(_checklist(fake).blocks, ensure_ascii=False)
        assert commander not in before and "陈律师" not in before
        item = next(e for e in world.incident(incident_id).checklist if e.owner == "quality").item_id
        world.click(LEAD, "assign", {"incident": incident_id})
        values = {"commander": user_value(SPOKES), "item": option_value(item), "owner": user_value(LEGAL)}
        assert world.submit(LEAD, world.last_view("assign"), values).json() == {"response_action": "clear"}
        world.deliver()
        message = _checklist(fake)
        after = json.dumps(message.blocks, ensure_ascii=False)
        assert message.edits == 2 and commander in after  # edited in place, once per assignment
        owned = [b for b in message.blocks if b.get("type") == "context" and owner in json.dumps(b, ensure_ascii=False)]
        assert len(owned) == 1 and after.count("陈律师") == 1 and after.count("刘洋") == 1
        console = TextRenderer(lang).checklist(
            world.incident(incident_id),
            playbook_title="p",
            now=world.clock.now(),
            assignments=world.ops.assignments(incident_id),
        )["text"]
        assert all(line in console for line in console_lines), console
    finally:
        world.close()


def test_refusals_are_said_in_the_locale(zh_world: World) -> None:
    world = zh_world
    incident_id = world.open_incident()
    world.click(LEAD, "stable", {"incident": incident_id})  # not acknowledged yet
    assert world.fake.ephemerals[-1]["text"] == f"未执行：事件 #{incident_id} 目前未确认；请先确认，再标记为已稳定"
    world.click(LEAD, "ack", {"incident": incident_id})
    world.click(LEAD, "ack", {"incident": incident_id})  # twice
    said = world.fake.ephemerals[-1]["text"]
    assert said == f"未执行：事件 #{incident_id} 目前已确认（确认人：王芳）；只有未确认的事件可以确认", said
    assert world.command(LEAD, f"ack {incident_id}").json()["text"] == said


def test_every_lifecycle_refusal_has_words_in_both_locales() -> None:
    from monitor.incidents.core import LIFECYCLE, REFUSALS, Refusal, transition
    from monitor.models import IncidentStatus

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify"))
    from slack_sample import sample_incident

    zh, en = Lang("zh-CN"), Lang("en")
    actions = {action for action, _ in REFUSALS}
    for status in IncidentStatus:
        incident = sample_incident(status=status, acknowledged_by="王芳")
        for action in actions:
            if (status, action) in LIFECYCLE:
                continue
            with pytest.raises(Refusal) as refused:
                transition(incident, action)  # type: ignore[arg-type]
            assert en.reason(refused.value) == str(refused.value)
            said = zh.reason(refused.value)
            assert said.startswith("事件 #42") and not any(c.isascii() and c.isalpha() for c in said), said


def test_checklist_refusals_are_said_in_the_locale(zh_world: World) -> None:
    world = zh_world
    incident_id = world.open_incident()
    item = world.incident(incident_id).checklist[0].item_id
    tick = {"incident": incident_id, "item": item, "op": "tick"}
    world.click(LEAD, "tick", tick)
    world.click(LEGAL, "tick", tick)  # a stale checklist: already ticked
    assert world.fake.ephemerals[-1]["text"] == f"未执行：清单项 {item} 已由 王芳 完成"
    world.ops.resolve(incident_id, "王芳", world.clock.now())
    world.click(LEAD, "tick", {**tick, "op": "untick"})
    assert world.fake.ephemerals[-1]["text"] == f"未执行：事件 #{incident_id} 目前已解决，清单不能再更改"
    assert world.incident(incident_id).checklist[0].done_by == "王芳"  # nothing changed
