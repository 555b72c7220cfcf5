"""A realistic incident for payload snapshots and for the payloads shown in docs/slack.md.

Run ``python tests/notify/slack_sample.py`` to print the payloads as Markdown sections;
``test_blocks.py`` checks that docs/slack.md shows exactly these payloads.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

from monitor.detect.evidence import Summary  # noqa: E402
from monitor.models import (  # noqa: E402
    Assignments,
    ChecklistEntry,
    Evidence,
    Incident,
    IncidentStatus,
    TopItem,
)
from monitor.notify.i18n import Lang  # noqa: E402
from monitor.slack import modals  # noqa: E402
from monitor.slack.blocks import render_alert, render_checklist, render_update, statement_actions  # noqa: E402

TOKEN = "xoxb-test-token"
OPENED = datetime(2024, 5, 1, 9, 40, tzinfo=UTC)
NOW = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
MENTIONS = {"crisis_lead": "U024BE7LH", "quality": "U0G9QF9C6", "pr": "S0614TZR7"}
RULE_DESCRIPTION = "产品质量投诉或负面报道激增"
PLAYBOOK_TITLE = "产品质量事故应对"
ZH = Lang("zh-CN", "Asia/Shanghai")
EN = Lang("en", "UTC")
#: Someone made 王芳 the incident commander and 刘洋 the owner of the holding statement.
ASSIGNED = Assignments("王芳", {"holding-statement": "刘洋"})


def _entry(item_id: str, phase: tuple[str, str], text: str, text_en: str, owner: str, due: int) -> ChecklistEntry:
    return ChecklistEntry(
        item_id=item_id,
        phase=phase[0],
        phase_title=phase[1],
        text=text,
        text_en=text_en,
        owner=owner,
        due_at=OPENED + timedelta(minutes=due),
    )


ASSESS = ("assess", "评估危机")
STRATEGY = ("strategy", "制定策略与分工")
RESPOND = ("respond", "对外回应")

CHECKLIST = (
    _entry(
        "stop-use-advice",
        ASSESS,
        "凡涉及冒烟、起火、漏电的反馈，客服立即回复用户：马上断电、停止使用、远离产品。",
        "For every report of smoke, fire or current leakage, customer service immediately tells the "
        "user to cut the power, stop using the product and keep away from it.",
        "customer_service",
        0,
    ),
    _entry(
        "scope",
        ASSESS,
        "质量部门确认涉事产品型号、生产批次、销售区域及已收到的投诉数量。",
        "Quality confirms the affected model, production batches, sales regions and the number of "
        "complaints received so far.",
        "quality",
        60,
    ),
    _entry(
        "report-leadership",
        ASSESS,
        "危机负责人立即向公司高层汇报：涉事产品、投诉量、已知伤亡或财产损失。",
        "The crisis lead immediately briefs senior leadership on the product, the complaint volume "
        "and known injuries or damage.",
        "crisis_lead",
        0,
    ),
    _entry(
        "crisis-team",
        STRATEGY,
        "成立专项危机小组，指定唯一对外发言人，对外声明须经危机负责人和法务审核。",
        "Set up a crisis team with a single spokesperson; every public statement needs crisis-lead and legal sign-off.",
        "crisis_lead",
        60,
    ),
    _entry(
        "holding-statement",
        RESPOND,
        "4小时内在官方微博发布首次回应：已关注、正在调查、给出用户安全建议和专线电话。",
        "Within 4 hours post a first response on the official Weibo: we are aware, investigating, "
        "with safety advice and the hotline number.",
        "pr",
        240,
    ),
)


def sample_incident(**changes: Any) -> Incident:
    """Incident #42, open, high severity; ``changes`` override fields."""
    checklist = list(CHECKLIST)
    checklist[0] = _done(checklist[0], OPENED + timedelta(minutes=12), "U0CS12345")
    fields: dict[str, Any] = {
        "id": 42,
        "rule_id": "product-quality-spike",
        "group": "product=X1 充电宝",
        "playbook": "product_quality",
        "title": "X1 充电宝质量投诉激增",
        "status": IncidentStatus.OPEN,
        "severity": "high",
        "opened_at": OPENED,
        "updated_at": NOW,
        "evidence": (
            Evidence(kind="spike", metric="negative_count", value=240, window="1h", baseline=30, ratio=8.0),
            Evidence(kind="threshold", metric="negative_share", value=0.72, window="1h", op=">=", threshold=0.6),
        ),
        "top_items": (
            TopItem(
                source="weibo",
                title="X1充电宝半夜起火，差点烧了房子！",
                text=("昨晚X1充电宝在床头充电时突然冒烟起火，幸好发现及时。客服到现在都没回复，@everyone 千万别买！"),
                published_at=datetime(2024, 5, 1, 10, 12, tzinfo=UTC),
                url="https://weibo.com/1234567890/NxYzAbCdE",
                sentiment=0.02,
                copies=37,
                sources=("news", "weibo"),
                author="数码博主老李",
                reach=1_250_000,
            ),
            TopItem(
                source="news",
                title="多地消费者投诉X1充电宝过热 <厂商回应>",
                text="据本报记者调查，近一周内已有超过两百名消费者投诉X1充电宝在使用中严重发热。",
                published_at=datetime(2024, 5, 1, 9, 55, tzinfo=UTC),
                url="https://news.example.com/2024/05/01/x1-powerbank?from=rss&utm=feed",
                sentiment=0.08,
            ),
            TopItem(
                source="complaints",
                title="",
                text="投诉单 #88231：X1 充电宝 充电时外壳鼓包，要求退货退款。",
                published_at=datetime(2024, 5, 1, 9, 48, tzinfo=UTC),
                url=None,
                sentiment=0.11,
            ),
        ),
        "checklist": tuple(checklist),
        "summary": Summary(
            items=262,
            stories=118,
            sources=(("weibo", 201), ("news", 34), ("complaints", 27)),
            terms=(("起火", 9.4, 41), ("鼓包", 7.2, 18), ("冒烟", 6.8, 52), ("召回", 5.1, 12)),
            authors=(("数码博主老李", 1_250_000, 1), ("消费者报道", 480_000, 2)),
            other_languages=3,
            unscored=3,
        ),
    }
    fields.update(changes)
    return Incident(**fields)


def _done(entry: ChecklistEntry, at: datetime, by: str) -> ChecklistEntry:
    return ChecklistEntry(**{**_asdict(entry), "done_at": at, "done_by": by})


def _asdict(entry: ChecklistEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}


def payloads() -> dict[str, dict[str, Any]]:
    """Every message type, rendered from the sample incident: English, then the zh-CN ones."""
    return {**english_payloads(), **chinese_payloads()}


def chinese_payloads() -> dict[str, dict[str, Any]]:
    """The same messages with ``locale: zh-CN`` and ``timezone: Asia/Shanghai``."""
    incident = sample_incident()
    acked = sample_incident(status=IncidentStatus.ACKNOWLEDGED, acknowledged_by="王芳")
    statement = (
        "📝 王芳 提交了等待声明（第 1 版），待 危机负责人、法务、新闻发言人 审批：\n> 我们已关注到X1 充电宝的用户反馈。"
    )
    return {
        "alert_zh": render_alert(
            incident,
            rule_description=RULE_DESCRIPTION,
            playbook_title=PLAYBOOK_TITLE,
            now=NOW,
            mentions=MENTIONS,
            lang=ZH,
        ),
        "alert_acknowledged_zh": render_alert(
            acked, rule_description=RULE_DESCRIPTION, playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS, lang=ZH
        ),
        "checklist_zh": render_checklist(incident, playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS, lang=ZH),
        "checklist_assigned_zh": render_checklist(
            incident, playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS, lang=ZH, assignments=ASSIGNED
        ),
        "update_zh": render_update(incident, "王芳 已确认", lang=ZH),
        "statement_zh": render_update(
            incident, statement, lang=ZH, actions_block=statement_actions(42, "holding", 1, ZH)
        ),
    }


def views() -> dict[str, dict[str, Any]]:
    """The modals, in both locales."""
    incident = sample_incident(status=IncidentStatus.ACKNOWLEDGED, acknowledged_by="王芳")
    found: dict[str, dict[str, Any]] = {}
    for suffix, lang in (("", EN), ("_zh", ZH)):
        found[f"modal_status_update{suffix}"] = modals.status_update(incident, lang, "C0CRISIS01")
        found[f"modal_assign{suffix}"] = modals.assign(incident, lang, "C0CRISIS01")
        found[f"modal_close_confirm{suffix}"] = modals.close_confirm(incident, lang, "C0CRISIS01")
    return found


def view_section(name: str, view: dict[str, Any]) -> str:
    """How docs/slack.md shows one modal: the view as JSON."""
    return f"<!-- payload:{name} -->\n```json\n{as_json(view)}\n```\n<!-- /payload -->\n"


def english_payloads() -> dict[str, dict[str, Any]]:
    incident = sample_incident()
    acked = sample_incident(status=IncidentStatus.ACKNOWLEDGED, acknowledged_by="U024BE7LH")
    return {
        "alert": render_alert(
            incident,
            rule_description=RULE_DESCRIPTION,
            playbook_title=PLAYBOOK_TITLE,
            now=NOW,
            mentions=MENTIONS,
        ),
        "alert_acknowledged": render_alert(
            acked,
            rule_description=RULE_DESCRIPTION,
            playbook_title=PLAYBOOK_TITLE,
            now=NOW,
            mentions=MENTIONS,
        ),
        "checklist": render_checklist(incident, playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS),
        "checklist_assigned": render_checklist(
            incident, playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS, assignments=ASSIGNED
        ),
        "update": render_update(incident, "严重程度升级：SEV2 → SEV1（负面数量 240，超过阈值 200）"),
    }


def as_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2)


def docs_section(name: str, payload: dict[str, Any]) -> str:
    """How docs/slack.md shows one payload: its fallback text, then the blocks as JSON."""
    blocks = as_json({"blocks": payload["blocks"]})
    return f"<!-- payload:{name} -->\nFallback text: `{payload['text']}`\n\n```json\n{blocks}\n```\n<!-- /payload -->\n"


if __name__ == "__main__":
    for name, payload in payloads().items():
        print(f"### {name}\n\n{docs_section(name, payload)}")
    for name, view in views().items():
        print(f"### {name}\n\n{view_section(name, view)}")
