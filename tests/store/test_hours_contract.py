"""Each rule's hits summed per group, hour and condition (``rule_hours``), kept at ingest: on
both backends, evaluating with those sums gives exactly the verdicts and evidence of matching
every stored item, round after round, with items arriving late into past hours, items dated
ahead, items replayed, a changed negative cut, a restart and pruning."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from monitor.config.rules import Rule
from monitor.detect.evaluator import Evaluator
from monitor.detect.evidence import term_baseline, words_baseline
from monitor.detect.hits import HitBook, hour_sums
from monitor.detect.window import Aggregate, units
from monitor.models import FetchResult, Item
from monitor.runtime.ingest import Ingestor
from monitor.runtime.metrics import Metrics
from monitor.store import SqlStore
from monitor.store.prune import prune
from monitor.testing import FakeClock, FakeScorer
from monitor.text.classify import KeywordClassifier

CUT = 0.3
TEXTS = [
    "电暖器起火了，吓死人 #{n}",
    "电暖器用了两天就坏了，质量太差 #{n}",
    "没有起火，只是有点热 #{n}",
    "今天天气不错，出去走走 #{n}",
    "电暖器很好用，推荐 #{n}",
]
PRODUCTS = ["暖居 X3 电暖器", "暖居 X5 电暖器", ""]


def sentiment(text: str) -> float | None:
    """Spread over [0, 1] (some unscored), so negative counts, shares and means all move."""
    n = sum(map(ord, text))
    return None if n % 11 == 0 else (n % 1000) / 999


def rule(rule_id: str, condition: dict[str, Any], **extra: Any) -> Rule:
    data: dict[str, Any] = {
        "id": rule_id,
        "description": "test",
        "playbook": "product_quality",
        "match": {"keywords_any": ["电暖器", "起火", "天气"]},
        "group_by": ["product"],
        "group_missing": "keep",
        "condition": condition,
        **extra,
    }
    return Rule.model_validate(data)


RULES = [
    rule(
        "count-7h",
        {"threshold": {"metric": "count", "op": ">=", "value": 20}},
        window="7h",
        severity={  # escalations on distinct stories and a share: counted by the database
            "default": "medium",
            "escalate": [
                {"level": "high", "metric": "stories", "op": ">=", "value": 60},
                {"level": "critical", "metric": "negative_share", "op": ">", "value": 0.5},
            ],
        },
    ),
    rule(
        "surge",  # a spike over a long baseline: the cost the sums remove
        {"spike": {"metric": "negative_count", "ratio": 1.5, "baseline": "1d", "min_baseline": 1}},
        window="2h",
    ),
    rule(
        "mixed",
        {
            "any": [
                {"threshold": {"metric": "negative_share", "op": ">", "value": 0.4, "window": "5h"}},
                {"threshold": {"metric": "mean_sentiment", "op": "<", "value": 0.45, "window": "90m"}},
                {"spike": {"metric": "count", "ratio": 2, "baseline": "10h", "match": {"keywords_any": ["坏"]}}},
                {"threshold": {"metric": "stories", "value": 3}},  # distinct stories: read from hits
            ]
        },
        window="3h",
    ),
    rule("instant", {"immediate": {"min_items": 2, "window": "40m"}}, match={"keywords_any": ["起火"]}),
    rule(
        "odd",  # a running anomaly detector beside a summed threshold
        {
            "any": [
                {"anomaly": {"metric": "count", "history": "1d", "min_history": "6h", "season": "none"}},
                {"threshold": {"metric": "negative_count", "value": 12, "window": "6h"}},
            ]
        },
        window="10m",
    ),
]


def items(clock: FakeClock, prefix: str, start: int, count: int, spread: timedelta) -> list[Item]:
    step = spread / max(count, 1)
    return [
        Item(
            source="complaints",
            id=f"{prefix}{n}",
            text=TEXTS[n % len(TEXTS)].format(n=f"{prefix}{n}"),
            published_at=clock.now() - step * k - timedelta(seconds=n % 7),
            kind="complaint",
            attrs={"product": PRODUCTS[n % len(PRODUCTS)]} if PRODUCTS[n % len(PRODUCTS)] else {},
        )
        for k, n in enumerate(range(start, start + count))
    ]


def ingestor(store: SqlStore, book: HitBook) -> Ingestor:
    ingest = Ingestor(store, FakeScorer(rule=sentiment), KeywordClassifier.default(), Metrics())
    ingest.hits = book
    return ingest


def seen(signals: list[Any]) -> list[tuple[Any, ...]]:
    """What a signal says, apart from its state (both evaluators step the same stored states)."""
    return [(s.group, s.holds, s.severity if s.holds else None, s.evidence, s.top_items) for s in signals]


def stored_hours(store: SqlStore, rule_id: str) -> dict[tuple[str, str, float, int], Aggregate]:
    rows = store._rows(
        "SELECT group_key, hour, bit, count, negative, scored, sentiment_units FROM rule_hours WHERE rule_id = ?",
        (rule_id,),
    )
    return {
        (rule_id, str(g), float(h), int(b)): Aggregate(int(c), int(n), int(s), int(u))
        for g, h, b, c, n, s, u in rows
        if int(c)
    }


def summed_hits(store: SqlStore, rule_id: str, cut: float) -> dict[tuple[str, str, float, int], Aggregate]:
    return hour_sums(store.hit_rows(rule_id, 0.0, 1e12), {rule_id: cut})


def test_evaluation_with_hourly_sums_gives_the_verdicts_of_matching_every_item(store: SqlStore) -> None:
    clock = FakeClock()
    rules = list(RULES)
    book = HitBook(store, lambda: rules, CUT)
    ingest = ingestor(store, book)
    book.ensure(rules, clock.now())
    ingest.ingest("complaints", FetchResult(items=items(clock, "h", 0, 900, timedelta(days=2))), clock.now())
    stored, matched = Evaluator(store, CUT, hits=book), Evaluator(store, CUT)
    held: set[str] = set()
    short: set[str] = set()
    levels: set[str] = set()
    for step in range(41):
        clock.advance(minutes=23)
        if step == 40:  # windows starting and ending on whole hours: no partial hour at the edges
            clock.advance(seconds=-clock.now().timestamp() % 3600)
        burst = 60 if step in (25, 26) else 3 + step % 4
        fresh = items(clock, f"s{step}-", 0, burst, timedelta(minutes=20))
        if step % 3 == 0:  # late: published hours ago, into hours already summed
            fresh += items(clock, f"late{step}-", 0, 5, timedelta(hours=20))
        if step in (7, 8):  # dated ahead (a fast clock), past the hour being evaluated
            ahead = items(clock, f"ahead{step}-", 0, 2, timedelta(minutes=1))
            fresh += [replace(a, published_at=a.published_at + timedelta(minutes=90)) for a in ahead]
        ingest.ingest("complaints", FetchResult(items=fresh), clock.now())
        if step == 10:  # a replay of items stored already (a backtest into the live store)
            ingest.replay([(i, None) for i in items(clock, "h", 0, 50, timedelta(days=2))], clock.now())
        now = clock.now()
        for r in rules:
            if stored.read_since(r, now, set(), hourly=True) > now - r.lookback():
                short.add(r.id)
            a = stored.evaluate_rule(r, now, set())
            b = matched.evaluate_rule(r, now, set())
            assert seen(a) == seen(b), (step, r.id)
            held.update(r.id for s in a if s.holds)
            levels.update(s.severity for s in a if s.holds and r.id == "count-7h")
    assert held == {r.id for r in rules}, held  # every rule held at some point: the test proves something
    assert len(levels) > 1, levels  # the severity escalated and fell back: the counted totals moved
    # every rule read less than its lookback: the hits of its non-summable conditions' windows and
    # the edges (severity and evidence read the window only for the groups that show a signal)
    assert short == {r.id for r in rules}
    for r in rules:
        assert stored_hours(store, r.id) == summed_hits(store, r.id, CUT), r.id


def test_sums_are_built_from_stored_hits_and_rebuilt_when_the_cut_changes(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    rules = list(RULES)
    plain = HitBook(store, lambda: rules)  # hits kept before sums existed (an upgraded store)
    plain.ensure(rules, clock.now())
    ingestor(store, plain).ingest(
        "complaints", FetchResult(items=items(clock, "h", 0, 400, timedelta(days=1))), clock.now()
    )
    assert not stored_hours(store, "surge")
    caplog.set_level(logging.INFO, logger="monitor.detect.hits")
    for cut in (CUT, 0.6):
        clock.advance(minutes=10)
        caplog.clear()
        book = HitBook(store, lambda: rules, cut)
        book.ensure(rules, clock.now())
        assert any(line.getMessage().startswith("summing the hits of rule surge") for line in caplog.records)
        for r in rules:
            assert stored_hours(store, r.id) == summed_hits(store, r.id, cut), (cut, r.id)
        stored, matched = Evaluator(store, cut, hits=book), Evaluator(store, cut)
        for r in rules:
            assert seen(stored.evaluate_rule(r, clock.now(), set())) == seen(
                matched.evaluate_rule(r, clock.now(), set())
            ), (cut, r.id)
    caplog.clear()
    HitBook(store, lambda: rules, 0.6).ensure(rules, clock.now())  # a restart: nothing summed again
    assert not [line for line in caplog.records if "summing" in line.getMessage()]


def test_pruning_removes_the_sums_of_pruned_hours_only(store: SqlStore) -> None:
    clock = FakeClock()
    rules = [RULES[1]]
    book = HitBook(store, lambda: rules, CUT)
    book.ensure(rules, clock.now())
    ingestor(store, book).ingest(
        "complaints", FetchResult(items=items(clock, "h", 0, 300, timedelta(days=3))), clock.now()
    )
    cutoff = clock.now() - timedelta(days=1, minutes=30)
    prune(store, cutoff)
    left = stored_hours(store, "surge")
    assert left and min(hour for _, _, hour, _ in left) > cutoff.timestamp()
    assert left == {k: v for k, v in summed_hits(store, "surge", CUT).items() if k[2] > cutoff.timestamp() + 3600}


def test_the_term_baseline_read_narrowly_is_the_one_of_the_whole_items(store: SqlStore) -> None:
    clock = FakeClock()
    book = HitBook(store, lambda: [], CUT)
    ingest = ingestor(store, book)
    ingest.ingest("complaints", FetchResult(items=items(clock, "h", 0, 200, timedelta(days=1))), clock.now())
    news = [replace(i, source="news", kind="post") for i in items(clock, "n", 0, 40, timedelta(hours=20))]
    reposts = [replace(i, id=f"re-{i.id}", published_at=i.published_at + timedelta(minutes=3)) for i in news[::3]]
    ingest.ingest("news", FetchResult(items=news + reposts), clock.now())  # stories of several items
    start, end = clock.now() - timedelta(hours=22), clock.now() - timedelta(minutes=30)
    for sources in (None, ["complaints"], ["news", "complaints"]):
        narrow = words_baseline(store.item_words_between(sources, start, end))
        whole = term_baseline(store.items_between(sources, start, end))
        assert narrow == whole, sources
        assert narrow.stories and narrow.counts, "the test proves nothing"
        if sources is None or "news" in sources:  # the reposts joined their stories
            assert narrow.stories < len(store.items_between(sources, start, end)), "no story of several items"
        latest = store.items_between(sources, start, end)[-25:]  # a busy day: only its latest items
        assert words_baseline(store.item_words_between(sources, start, end, 25)) == term_baseline(latest), sources


HALVES = [2.5e-9, 3.5e-9, 1.25e-8, 0.1234567895, 0.5, 0.0, 1.0, 0.3333333333333333, 0.9999999995, 0.7071067811865476]
"""Sentiments whose value x 10^9 ends in exactly .5 (rounded half to even, as Python does), and others."""


def test_the_database_sums_sentiments_in_the_units_python_sums(store: SqlStore) -> None:
    at = 1_800_000_000.0
    rows = [("r", "s", f"i{n}", at - n, "g", 2 | 4, 1 + n % 3, sentiment, None) for n, sentiment in enumerate(HALVES)]
    assert store.add_hits(rows) == len(rows)
    expected = sum(units(s) * (1 + n % 3) for n, s in enumerate(HALVES))
    assert sum(round(s * 10**9) for s in HALVES[:3]) != sum(int(s * 10**9 + 0.5) for s in HALVES[:3])  # halves
    [(_, _, bucketed)] = store.hit_buckets("r", 2, at - 3600, at, 3600.0, CUT, False)
    assert bucketed.sentiment_units == expected
    _, edges = store.rule_hours_with_edges("r", at, at, [(at - 3600, at)], CUT)
    assert [e[1:] for e in edges] == [("g", 6, bucketed.count, bucketed.negative, bucketed.scored, expected)]
