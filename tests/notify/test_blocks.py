"""Block Kit rendering: snapshots, hostile text, limits, the docs' payloads."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sample import (
    MENTIONS,
    NOW,
    OPENED,
    PLAYBOOK_TITLE,
    RULE_DESCRIPTION,
    docs_section,
    payloads,
    sample_incident,
    view_section,
    views,
)

from monitor.models import ChecklistEntry, Evidence, Incident, IncidentStatus, TopItem
from monitor.slack import blocks
from monitor.slack.blocks import (
    escape,
    fit_lines,
    link,
    render_alert,
    render_checklist,
    render_update,
    safe_url,
    truncate,
    truncate_escaped,
)
from monitor.testing.fakeslack import block_problems, view_problems

SNAPSHOTS = Path(__file__).parent / "snapshots"
PAYLOADS = list(payloads())
DOCS = Path(__file__).resolve().parents[2] / "docs" / "slack.md"

HOSTILE = [
    "<!channel> 紧急",
    "<!here|here>",
    "<!everyone>",
    "<@U024BE7LH> 看这里",
    "<!subteam^S0614TZR7|@pr-team>",
    "<#C024BE7LR|general>",
    "<https://evil.example/phish|https://weibo.com/official>",
    "<javascript:alert(1)|点我>",
    "@channel @here @everyone @Channel @HERE 大家注意",
    "&lt;!channel&gt; pre-escaped",
    "<!date^1392734382^{date}|Feb 18>",
    "\u202eevil\u202c bidi override and \x00 control",
]


def alert(incident: Incident) -> dict[str, Any]:
    return render_alert(
        incident, rule_description=RULE_DESCRIPTION, playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS
    )


def checklist(incident: Incident) -> dict[str, Any]:
    return render_checklist(incident, playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS)


def all_text(payload: dict[str, Any]) -> list[str]:
    """Every string in the payload that Slack renders (text fields, not values or ids)."""
    found: list[str] = [payload["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return found


def mrkdwn_tokens(text: str) -> list[str]:
    """The ``<…>`` control sequences Slack would interpret in mrkdwn text."""
    return re.findall(r"<([^<>]*)>", text)


# --- snapshots ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAYLOADS)
def test_payload_snapshot(name: str) -> None:
    payload = payloads()[name]
    path = SNAPSHOTS / f"{name}.json"
    rendered = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), f"run with UPDATE_SNAPSHOTS=1 to accept ({path})"


@pytest.mark.parametrize("name", PAYLOADS)
def test_docs_show_the_current_payloads(name: str) -> None:
    assert docs_section(name, payloads()[name]) in DOCS.read_text(encoding="utf-8"), (
        f"docs/slack.md is out of date for {name}: paste `python tests/notify/slack_sample.py`"
    )


@pytest.mark.parametrize("name", PAYLOADS)
def test_sample_payloads_pass_slack_block_checks(name: str) -> None:
    assert block_problems(payloads()[name]["blocks"]) == []


# --- the alert ---------------------------------------------------------------------------------


def test_alert_shows_severity_rule_evidence_items_and_buttons() -> None:
    payload = alert(sample_incident())
    header, state, evidence = payload["blocks"][:3]
    assert header["text"]["text"].startswith("🟠 SEV2 (high) · #42 X1 充电宝质量投诉激增")
    assert "`product-quality-spike` 产品质量投诉或负面报道激增" in state["text"]["text"]
    assert "*Group:* product=X1 充电宝" in state["text"]["text"]
    assert "<@U024BE7LH> (crisis_lead)" in state["text"]["text"]
    assert "negative_count 240 in 1h vs baseline 30 (x8.0)" in evidence["text"]["text"]
    texts = "\n".join(all_text(payload))
    assert "<https://weibo.com/1234567890/NxYzAbCdE|X1充电宝半夜起火，差点烧了房子！>" in texts
    assert "weibo · <!date^1714558320^" in texts and "sentiment 0.02" in texts
    actions = payload["blocks"][-1]
    assert [e["action_id"] for e in actions["elements"]] == [
        "ack",
        "resolve",
        "close",
        "status_update",
        "assign",
        "show_checklist",
        "draft",
        "mute",
    ]
    assert json.loads(actions["elements"][0]["value"]) == {"incident": 42}
    assert [json.loads(o["value"])["hours"] for o in actions["elements"][-1]["options"]] == [1, 4, 12, 24]


def test_resolved_alert_keeps_only_close_and_show_checklist() -> None:
    resolved = sample_incident(status=IncidentStatus.RESOLVED, resolved_at=NOW)
    payload = alert(resolved)
    assert payload["blocks"][0]["text"]["text"].startswith("RESOLVED · ")
    assert payload["text"].startswith("RESOLVED SEV2")
    assert [e["action_id"] for e in payload["blocks"][-1]["elements"]] == ["close", "show_checklist"]
    assert "*Owners:*" not in payload["blocks"][1]["text"]["text"]


def test_acknowledged_by_a_name_is_escaped_not_mentioned() -> None:
    payload = alert(sample_incident(status=IncidentStatus.ACKNOWLEDGED, acknowledged_by="<!channel>"))
    assert "Acknowledged by &lt;!channel&gt;" in payload["blocks"][1]["text"]["text"]


def test_many_top_items_show_five_and_say_how_many_more() -> None:
    item = sample_incident().top_items[0]
    payload = alert(sample_incident(top_items=(item,) * 12))
    more = [b for b in payload["blocks"] if b["type"] == "context" and "more items" in b["elements"][0]["text"]]
    assert more and more[0]["elements"][0]["text"] == "… 7 more items"
    assert block_problems(payload["blocks"]) == []


def test_unknown_severity_still_renders() -> None:
    payload = alert(sample_incident(severity="weird"))
    assert "SEV? (weird)" in payload["blocks"][0]["text"]["text"]


# --- the checklist -----------------------------------------------------------------------------


def test_checklist_items_by_phase_with_owner_due_overdue_and_tick() -> None:
    payload = checklist(sample_incident())
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert sections[0] == "*1. 评估危机*"
    assert "*2. 制定策略与分工*" in sections and "*3. 对外回应*" in sections
    item = next(b for b in payload["blocks"] if b.get("block_id") == "tick:42:report-leadership")
    assert item["text"]["text"].startswith("☐ 危机负责人立即向公司高层汇报")
    assert item["accessory"]["action_id"] == "tick"
    assert json.loads(item["accessory"]["options"][0]["value"]) == {
        "incident": 42,
        "item": "report-leadership",
    }
    details = payload["blocks"][payload["blocks"].index(item) + 1]["elements"]
    assert details[0]["text"].startswith("_The crisis lead immediately briefs")
    assert "👤 <@U024BE7LH> (crisis_lead)" in details[1]["text"]
    assert "🚨 *OVERDUE*" in details[1]["text"]
    assert payload["text"] == "Checklist for #42 X1 充电宝质量投诉激增: 1/5 done, 1 overdue"


def test_done_item_is_ticked_and_not_overdue() -> None:
    payload = checklist(sample_incident())
    item = next(b for b in payload["blocks"] if b.get("block_id") == "tick:42:stop-use-advice")
    assert item["text"]["text"].startswith("☑ ~")
    assert item["accessory"]["initial_options"] == item["accessory"]["options"]
    details = payload["blocks"][payload["blocks"].index(item) + 1]["elements"][1]["text"]
    assert "✅ done by <@U0CS12345>" in details and "OVERDUE" not in details


def test_owner_without_roster_entry_is_the_role_name() -> None:
    payload = render_checklist(sample_incident(), playbook_title=PLAYBOOK_TITLE, now=NOW)
    assert not any("👤 <" in t for t in all_text(payload))
    assert any("👤 quality · ⏰ due" in t for t in all_text(payload))


def test_invalid_roster_ids_are_not_turned_into_mentions() -> None:
    roster = {"quality": "<!channel>", "crisis_lead": "U1|x", "pr": "here"}
    payload = render_checklist(sample_incident(), playbook_title="t", now=NOW, mentions=roster)
    texts = "\n".join(all_text(payload))
    assert "<!channel>" not in texts and "<@U1|x>" not in texts
    assert "👤 quality" in texts


def _entries(count: int, *, phases: int = 4, long: bool = False) -> tuple[ChecklistEntry, ...]:
    text = "很长的检查项" * 400 if long else "检查项"
    return tuple(
        ChecklistEntry(
            item_id=f"item-{i}",
            phase=f"phase-{i % phases}",
            phase_title=f"阶段 {i % phases}",
            text=f"{text} {i}",
            text_en=("A long item " * 300) if long else f"item {i}",
            owner="quality",
            due_at=OPENED + timedelta(minutes=i),
        )
        for i in sorted(range(count), key=lambda i: i % phases)
    )


@pytest.mark.parametrize("count", [20, 24, 47, 48, 60, 200])
def test_big_checklists_stay_within_limits_with_visible_truncation(count: int) -> None:
    payload = checklist(sample_incident(checklist=_entries(count)))
    assert len(payload["blocks"]) <= 50
    assert block_problems(payload["blocks"]) == []
    ticks = [b for b in payload["blocks"] if b.get("block_id", "").startswith("tick:")]
    last = payload["blocks"][-1]
    if len(ticks) < count:
        assert last["type"] == "context" and last["elements"][0]["text"] == f"… {count - len(ticks)} more items"
    else:
        assert last.get("block_id", "").startswith("tick:") or last["type"] == "context"


def test_compact_layout_is_used_before_dropping_items() -> None:
    payload = checklist(sample_incident(checklist=_entries(30)))
    ticks = [b for b in payload["blocks"] if b.get("block_id", "").startswith("tick:")]
    assert len(ticks) == 30  # 30 items x 2 blocks would not fit; one block each does
    assert "_item 0_" in ticks[0]["text"]["text"]


def test_huge_item_texts_are_cut_within_section_limits() -> None:
    payload = checklist(sample_incident(checklist=_entries(3, long=True)))
    assert block_problems(payload["blocks"]) == []
    assert any(t.endswith("…") for t in all_text(payload))


def test_long_item_ids_fall_back_to_a_button_carrying_the_ids() -> None:
    entry = replace(_entries(1)[0], item_id="x" * 140)
    payload = checklist(sample_incident(checklist=(entry,)))
    item = next(b for b in payload["blocks"] if b.get("block_id", "").startswith("tick:"))
    assert item["accessory"]["type"] == "button"
    assert json.loads(item["accessory"]["value"]) == {"incident": 42, "item": "x" * 140, "op": "tick"}
    assert block_problems(payload["blocks"]) == []


def test_empty_checklist() -> None:
    payload = checklist(sample_incident(checklist=()))
    assert payload["blocks"][-1]["text"]["text"] == "_No checklist items._"


# --- updates -----------------------------------------------------------------------------------


def test_update_escapes_text_and_mentions_only_valid_user_ids() -> None:
    payload = render_update(sample_incident(), "升级 <!channel> @here", notify=["U024BE7LH", "<!here>", "S123"])
    text = payload["blocks"][0]["text"]["text"]
    assert text == "升级 &lt;!channel&gt; @\u200dhere\n<@U024BE7LH>"
    assert "<!channel>" not in payload["text"]


# --- escaping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_escape_never_leaves_a_control_sequence(hostile: str) -> None:
    escaped = escape(hostile)
    assert mrkdwn_tokens(escaped) == []
    assert "<" not in escaped and ">" not in escaped
    assert not re.search(r"@(channel|here|everyone)\b", escaped, re.IGNORECASE)
    assert "\u202e" not in escaped and "\x00" not in escaped


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_feed_text_cannot_mention_or_disguise_links(hostile: str) -> None:
    item = TopItem(
        source=hostile,
        title=hostile,
        text=hostile + " 正文",
        published_at=NOW,
        url="https://example.com/a",
        sentiment=0.1,
    )
    entry = replace(sample_incident().checklist[1], text=hostile, text_en=hostile, done_by=hostile)
    incident = sample_incident(
        title=hostile,
        group=f"product={hostile}",
        rule_id=hostile,
        acknowledged_by=hostile,
        status=IncidentStatus.ACKNOWLEDGED,
        top_items=(item,),
        checklist=(entry,),
        evidence=(Evidence(kind="threshold", metric=hostile, value=1, window=hostile, op=">", threshold=0),),
    )
    rendered = [
        render_alert(incident, rule_description=hostile, playbook_title=hostile, now=NOW, mentions=MENTIONS),
        render_checklist(incident, playbook_title=hostile, now=NOW, mentions=MENTIONS),
        render_update(incident, hostile),
    ]
    for payload in rendered:
        for text in all_text(payload):
            for token in mrkdwn_tokens(text):
                allowed = (
                    token.startswith("!date^")
                    or token == "https://example.com/a|" + escape(hostile)
                    or re.fullmatch(r"@U[A-Z0-9]+|!subteam\^S[A-Z0-9]+", token)
                )
                assert allowed, f"unexpected control sequence <{token}> in {text!r}"
            assert not re.search(r"(?<!\w)@(channel|here|everyone)\b", text, re.IGNORECASE)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://weibo.com/1/abc", "https://weibo.com/1/abc"),
        ("http://news.example.com/a?x=1&y=2", "http://news.example.com/a?x=1&amp;y=2"),
        ("https://example.com/a|b>c<d", "https://example.com/a%7Cb%3Ec%3Cd"),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("ftp://example.com/file", None),
        ("https://weibo.com@evil.example/", None),
        ("https:///nohost", None),
        ("https://example.com/a b", None),
        ("https://example.com/\nx", None),
        ("", None),
        (None, None),
        ("https://example.com/" + "a" * 3000, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_link_with_unsafe_url_is_just_the_escaped_label() -> None:
    assert link("javascript:alert(1)", "<b>点我</b>") == "&lt;b&gt;点我&lt;/b&gt;"
    assert link("https://a.example/x", "a|b <c>") == "<https://a.example/x|a|b &lt;c&gt;>"


# --- truncation --------------------------------------------------------------------------------


def test_truncate_marks_the_cut() -> None:
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdefg", 6) == "abcde…"


def test_truncate_escaped_never_splits_an_entity() -> None:
    cut = truncate_escaped("ab&&&&&&", 6)
    assert cut == "ab…" or cut.endswith("&amp;…")
    assert len(cut) <= 6 and not re.search(r"&[a-z]{0,3}…$", cut)


def test_fit_lines_drops_whole_lines_and_counts_them() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(100)]
    text = fit_lines(lines, limit=1000, noun="items")
    assert len(text) <= 1000
    kept = text.split("\n")
    assert kept[-1] == f"… {100 - (len(kept) - 1)} more items"
    assert all(line in lines for line in kept[:-1])


def test_limits_are_the_documented_ones() -> None:
    assert (blocks.MAX_BLOCKS, blocks.MAX_SECTION_TEXT, blocks.MAX_ACTIONS_ELEMENTS) == (50, 3000, 10)
    assert blocks.MAX_HEADER_TEXT == 150 and blocks.MAX_FALLBACK_TEXT == 3000


def test_huge_titles_and_evidence_respect_limits() -> None:
    incident = sample_incident(
        title="标题" * 2000,
        group="g" * 5000,
        evidence=tuple(
            Evidence(kind="threshold", metric="m" * 400, value=i, window="1h", op=">", threshold=0) for i in range(40)
        ),
    )
    payload = alert(incident)
    assert block_problems(payload["blocks"]) == []
    assert len(payload["text"]) <= 3000
    assert "more conditions" in payload["blocks"][2]["text"]["text"]


@pytest.mark.parametrize("name", list(views()))
def test_modal_snapshots_are_in_the_docs_and_valid(name: str) -> None:
    view = views()[name]
    path = SNAPSHOTS / f"{name}.json"
    rendered = json.dumps(view, ensure_ascii=False, indent=2) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), f"run with UPDATE_SNAPSHOTS=1 to accept ({path})"
    assert view_section(name, view) in DOCS.read_text(encoding="utf-8"), (
        f"docs/slack.md is out of date for {name}: paste `python tests/notify/slack_sample.py`"
    )
    assert view_problems(view) == []


def test_chinese_payloads_have_no_english_labels_and_local_times() -> None:
    for name in ("alert_zh", "checklist_zh", "update_zh", "statement_zh"):
        text = " ".join(all_text(payloads()[name]))
        for english in (
            "Status:",
            "Rule:",
            "Owners:",
            "Acknowledge",
            "Show checklist",
            "What crossed what",
            "OVERDUE",
            "due ",
        ):
            assert english not in text, (name, english)
    alert = " ".join(all_text(payloads()["alert_zh"]))
    assert "*状态:*" in alert and "确认" in alert and "2024-05-01 17:40 CST" in alert  # 09:40 UTC in Shanghai
