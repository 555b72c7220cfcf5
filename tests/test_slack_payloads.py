"""The escalation DM and the pager webhook body, as docs/slack.md shows them (kept true here).

Print the sections with ``python -m tests.test_slack_payloads``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.incidents.escalation import dm_payload, page_payload
from monitor.models import Incident, IncidentStatus
from monitor.notify.i18n import Lang
from monitor.testing.fakeslack import block_problems

from .conftest import ROOT

OPENED = datetime(2024, 5, 1, 9, 40, tzinfo=UTC)
NOW = datetime(2024, 5, 1, 9, 45, tzinfo=UTC)
TEXT = "not acknowledged after 5 min: escalating to crisis_lead (王芳)"
TEXT_ZH = "5 分钟未确认：升级给 危机负责人 (王芳)"
ZH = Lang("zh-CN", "Asia/Shanghai")


def incident(title: str = "X1 充电宝质量投诉激增 (product=X1 充电宝)") -> Incident:
    return Incident(
        id=42,
        rule_id="product-quality-spike",
        group="product=X1 充电宝",
        playbook="product_quality",
        title=title,
        status=IncidentStatus.OPEN,
        severity="critical",
        opened_at=OPENED,
        updated_at=NOW,
    )


def payloads() -> dict[str, dict[str, Any]]:
    return {
        "dm": dm_payload(incident(), "crisis_lead", "U024BE7LH", TEXT),
        "page": page_payload(incident(), 1, "crisis_lead", "王芳", TEXT, NOW),
        "dm_zh": dm_payload(incident(), "crisis_lead", "U024BE7LH", TEXT_ZH, ZH),
        "page_zh": page_payload(incident(), 1, "crisis_lead", "王芳", TEXT_ZH, NOW),
    }


def section(name: str, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, ensure_ascii=False, indent=2)
    return f"<!-- payload:{name} -->\n```json\n{body}\n```\n<!-- /payload -->\n"


@pytest.mark.parametrize("name", ["dm", "page", "dm_zh", "page_zh"])
def test_docs_show_the_current_payloads(name: str) -> None:
    docs = (ROOT / "docs" / "slack.md").read_text(encoding="utf-8")
    assert section(name, payloads()[name]) in docs, "docs/slack.md is out of date: python -m tests.test_slack_payloads"


@pytest.mark.parametrize("lang", [Lang(), ZH])
def test_the_dm_passes_slack_block_checks_and_escapes_hostile_titles(lang: Lang) -> None:
    payload = dm_payload(incident("<!channel> @here <@U0BAD> 起火"), "crisis_lead", "U024BE7LH", "<!everyone>", lang)
    assert block_problems(payload["blocks"]) == []
    rendered = payload["text"] + json.dumps(payload["blocks"], ensure_ascii=False)
    assert "<!channel>" not in rendered and "<@U0BAD>" not in rendered and "<!everyone>" not in rendered
    assert "&lt;!channel&gt;" in rendered


def test_the_chinese_dm_has_no_english_words() -> None:
    payload = dm_payload(incident("X1 充电宝质量投诉激增"), "crisis_lead", "U024BE7LH", TEXT_ZH, ZH)
    text = payload["text"] + payload["blocks"][0]["text"]["text"]
    assert "危机负责人" in text and "未确认" in text
    for english in ("Incident", "needs you", "crisis_lead", "open", "Acknowledge"):
        assert english not in text, english


if __name__ == "__main__":
    for name, payload in payloads().items():
        print(f"### {name}\n\n{section(name, payload)}")
