"""locale: zh-CN and timezone: Asia/Shanghai across Slack messages, modals, ephemeral replies."""

from __future__ import annotations

from .world import LEAD, STRANGER, World, text_value


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
    import sys
    from pathlib import Path

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
    en = TextRenderer(Lang("en", "UTC")).alert(incident, rule_description="spike", playbook_title="p", now=NOW)["text"]
    assert en.startswith("=== CRISIS ALERT #42") and "opened: 2024-05-01 09:40 UTC" in en
