"""What an alert shows: matched stories (never empty), sources, rising terms, authors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.detect.evidence import summarise, top_stories
from monitor.models import Item, ScoredItem
from monitor.notify.text import render_alert
from monitor.runtime.ingest import score_items
from monitor.testing import FakeScorer
from monitor.text.classify import KeywordClassifier

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def items(*specs: tuple[str, str, float | None, int | None, dict[str, str]]) -> list[ScoredItem]:
    out = []
    for n, (source, text, sentiment, story, attrs) in enumerate(specs):
        item = Item(source=source, id=str(n), text=text, published_at=NOW - timedelta(minutes=n + 1), attrs=attrs)
        (scored,) = score_items([item], FakeScorer(), KeywordClassifier.default(), fixed=[sentiment])
        out.append(ScoredItem(scored.item, sentiment, scored.category, scored.lang, scored.norm, scored.tokens, story))
    return out


def test_each_story_is_shown_once_with_its_copies_and_sources_most_negative_first() -> None:
    window = items(
        ("weibo", "电暖器起火，孩子被烫伤送医院了", 0.6, 1, {}),
        ("weibo", "太心疼了//@宝妈:电暖器起火，孩子被烫伤送医院了", 0.7, 1, {}),
        ("news", "电暖器起火，孩子被烫伤送医院了", 0.5, 1, {}),
        ("complaints", "插头漏电，被电了一下", 0.2, 2, {}),
        ("weibo", "Le radiateur a pris feu", None, 3, {}),
    )
    top = top_stories(window, NOW - timedelta(hours=1))
    assert [t.text for t in top] == [
        "插头漏电，被电了一下",
        "电暖器起火，孩子被烫伤送医院了",
        "Le radiateur a pris feu",
    ]
    assert (top[1].copies, top[1].sources, top[1].sentiment) == (3, ("news", "weibo"), 0.5)
    assert top[2].sentiment is None  # unscored, shown last, never dropped


def test_evidence_is_never_empty_when_items_match_even_if_none_is_negative() -> None:
    window = items(("complaints", "电暖器起火，孩子被烫伤送医院了", 0.88, None, {}))
    assert len(top_stories(window, NOW - timedelta(hours=1))) == 1


def test_summary_breaks_down_sources_rising_terms_authors_and_other_languages() -> None:
    current = items(
        ("weibo", "暖居电暖器起火了，太吓人", 0.1, 1, {"author": "数码博主老李", "followers": "125万"}),
        ("weibo", "又一台暖居电暖器起火", 0.1, 2, {"author": "小王", "followers": "300"}),
        ("news", "暖居电暖器起火事件调查", 0.2, 3, {"platform": "toutiao"}),
        ("weibo", "我家电暖器也起火了", 0.1, 4, {}),
        ("weibo", "Le radiateur a pris feu", None, 5, {}),
    )
    baseline = items(*(("weibo", f"暖居电暖器很暖和 {i}", 0.9, 100 + i, {}) for i in range(20)))
    summary = summarise(current, baseline)
    assert (summary.items, summary.stories, summary.other_languages) == (5, 5, 1)
    assert summary.sources == (("weibo", 4), ("news/toutiao", 1))
    assert summary.terms[0][0] == "起火"
    assert "电暖器" not in [t for t, _, _ in summary.terms]  # as common before as now
    assert summary.authors[0] == ("数码博主老李", 1_250_000, 1)
    assert "1 item(s) in other languages" in "\n".join(summary.lines())


def test_bad_reach_values_are_ignored() -> None:
    current = items(("weibo", "起火了", 0.1, 1, {"author": "x", "followers": "很多"}))
    assert summarise(current, []).authors == (("x", None, 1),)


def test_the_console_alert_shows_the_summary_and_copies() -> None:
    from monitor.models import Incident, IncidentStatus

    window = items(
        ("weibo", "电暖器起火，孩子被烫伤送医院了", 0.6, 1, {}), ("news", "电暖器起火，孩子被烫伤送医院了", 0.5, 1, {})
    )
    incident = Incident(
        id=1,
        rule_id="r",
        group="",
        playbook="product_quality",
        title="t",
        status=IncidentStatus.OPEN,
        severity="critical",
        opened_at=NOW,
        updated_at=NOW,
        top_items=top_stories(window, NOW - timedelta(hours=1)),
        summary=summarise(window, []),
    )
    text = render_alert(incident, rule_description="d", playbook_title="p", now=NOW)["text"]
    assert "2 item(s) in 1 story(ies)" in text
    assert "×2 via news, weibo" in text
