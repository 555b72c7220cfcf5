"""Each rule's hits, kept at ingest: the same as matching every stored item, on both backends;
rebuilt (with a progress line) when a rule is added or edited; kept across a restart."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config.rules import Rule
from monitor.detect.backtest import replay, spans
from monitor.detect.evaluator import Evaluator
from monitor.detect.hits import HitBook, MatchedHits
from monitor.detect.running import running_state
from monitor.incidents.review import chart_replay
from monitor.models import FetchResult, Incident, IncidentStatus, Item
from monitor.runtime.ingest import Ingestor
from monitor.runtime.metrics import Metrics
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer
from monitor.text.classify import KeywordClassifier

TEXTS = [
    "电暖器起火了，吓死人 #{n}",
    "电暖器用了两天就坏了，质量太差 #{n}",
    "没有起火，只是有点热 #{n}",
    "今天天气不错，出去走走 #{n}",
    "The heater caught fire in the kitchen #{n}",
]
PRODUCTS = ["暖居 X3 电暖器", "暖居 X5 电暖器", ""]


def rule(rule_id: str, keywords: list[str], **extra: Any) -> Rule:
    data: dict[str, Any] = {
        "id": rule_id,
        "description": "test",
        "playbook": "product_quality",
        "match": {"keywords_any": keywords},
        "group_by": ["product"],
        "condition": {"threshold": {"metric": "count", "op": ">=", "value": 2}},
        **extra,
    }
    return Rule.model_validate(data)


RULES = [
    rule("fire", ["起火", "fire"]),
    rule("quality", ["坏", "质量"], group_missing="keep", window="3h"),
    rule(
        "two-leaves",
        [],
        condition={
            "any": [
                {"threshold": {"metric": "negative_count", "value": 3, "match": {"keywords_any": ["坏"]}}},
                {"spike": {"metric": "count", "ratio": 2, "baseline": "6h", "sources": ["news"]}},
            ]
        },
    ),
]


def items(clock: FakeClock, start: int, count: int, source: str = "complaints") -> list[Item]:
    return [
        Item(
            source=source,
            id=f"{source}-{n}",
            text=TEXTS[n % len(TEXTS)].format(n=n),
            published_at=clock.now() - timedelta(minutes=(n * 7) % 600 if n % 2 else (n * 7) % 59),
            kind="complaint" if source == "complaints" else "post",
            attrs={"product": PRODUCTS[n % len(PRODUCTS)]} if PRODUCTS[n % len(PRODUCTS)] else {},
        )
        for n in range(start, start + count)
    ]


def history(clock: FakeClock, count: int) -> list[Item]:
    """``count`` - 1 complaints about two products, one every 7 minutes back from now."""
    return [
        Item(source="complaints", id=f"h{n}", text=TEXTS[n % 4].format(n=n),
             published_at=clock.now() - timedelta(minutes=7 * n), attrs={"product": PRODUCTS[n % 2]})
        for n in range(1, count)
    ]  # fmt: skip


def burst_items(clock: FakeClock, step: int, count: int, apart: timedelta) -> list[Item]:
    """``count`` complaints of round ``step``, ``apart`` from each other back from now."""
    return [
        Item(source="complaints", id=f"s{step}-{k}", text=TEXTS[k % 4].format(n=k),
             published_at=clock.now() - apart * k, attrs={"product": PRODUCTS[k % 2]})
        for k in range(count)
    ]  # fmt: skip


def ingestor(store: SqlStore, book: HitBook) -> Ingestor:
    ingest = Ingestor(store, FakeScorer(), KeywordClassifier.default(), Metrics())
    ingest.hits = book
    return ingest


def assert_same_as_matching(store: SqlStore, book: HitBook, rules: list[Rule], clock: FakeClock) -> None:
    now = clock.now()
    for r in rules:
        start = now - r.lookback()
        stored = book.hits_between(r, start, now)
        assert stored, f"{r.id} counts nothing: the test proves nothing"
        assert stored == MatchedHits(store).hits_between(r, start, now), r.id


def test_hits_kept_at_ingest_are_those_matching_every_item_finds(store: SqlStore) -> None:
    clock = FakeClock()
    rules = list(RULES)
    book = HitBook(store, lambda: rules)
    ingest = ingestor(store, book)
    book.ensure(rules, clock.now())
    ingest.ingest("complaints", FetchResult(items=items(clock, 0, 60)), clock.now())
    ingest.ingest("news", FetchResult(items=items(clock, 0, 30, "news")), clock.now())
    clock.advance(minutes=30)
    ingest.ingest("complaints", FetchResult(items=items(clock, 60, 40)), clock.now())
    assert_same_as_matching(store, book, rules, clock)


def test_live_evaluation_with_stored_hits_reaches_the_verdicts_of_matching(store: SqlStore) -> None:
    clock = FakeClock()
    rules = list(RULES)
    book = HitBook(store, lambda: rules)
    ingest = ingestor(store, book)
    ingest.ingest("complaints", FetchResult(items=items(clock, 0, 80)), clock.now())
    stored = Evaluator(store, 0.3, hits=book)
    matched = Evaluator(store, 0.3)
    held = []
    for r in rules:  # what a signal says does not depend on the state the other evaluation wrote
        a = stored.evaluate_rule(r, clock.now(), set())
        b = matched.evaluate_rule(r, clock.now(), set())
        assert [(s.group, s.holds, s.evidence, s.top_items) for s in a] == [
            (s.group, s.holds, s.evidence, s.top_items) for s in b
        ]
        held.extend(s.rule_id for s in a if s.holds)
    assert set(held) == {"fire", "quality", "two-leaves"}


def test_a_rule_added_or_edited_by_reload_is_rebuilt_with_a_progress_line(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    rules = [RULES[0]]
    book = HitBook(store, lambda: rules)
    ingest = ingestor(store, book)
    book.ensure(rules, clock.now())
    ingest.ingest("complaints", FetchResult(items=items(clock, 0, 90)), clock.now())
    rules[:] = [rule("fire", ["坏"]), RULES[1]]  # "fire" edited, "quality" added: what a hot reload swaps in
    caplog.set_level(logging.INFO, logger="monitor.detect.hits")
    caplog.clear()
    book.ensure(rules, clock.now())
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("rebuilding what rule(s) fire, quality count") for line in lines), lines
    assert any("100%" in line for line in lines), lines
    assert_same_as_matching(store, book, rules, clock)


def test_a_restart_keeps_the_hits_and_rebuilds_nothing(store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    rules = list(RULES)
    book = HitBook(store, lambda: rules)
    book.ensure(rules, clock.now())
    ingestor(store, book).ingest("complaints", FetchResult(items=items(clock, 0, 50)), clock.now())
    clock.advance(minutes=5)
    caplog.set_level(logging.INFO, logger="monitor.detect.hits")
    caplog.clear()
    restarted = HitBook(store, lambda: rules)
    restarted.ensure(rules, clock.now())
    assert not [r for r in caplog.records if "rebuil" in r.getMessage()]
    assert_same_as_matching(store, restarted, rules, clock)


ANOMALY = rule(
    "odd-volume",
    [],
    window="5m",
    condition={
        "all": [
            {"anomaly": {"metric": "count", "history": "2d", "min_history": "6h", "season": "none"}},
            {"threshold": {"metric": "count", "value": 1}},
        ]
    },
)


def test_running_anomaly_detectors_read_only_new_hits_and_reach_the_same_verdicts(store: SqlStore) -> None:
    clock = FakeClock()
    rules = [ANOMALY]
    book = HitBook(store, lambda: rules)
    ingest = ingestor(store, book)
    ingest.ingest("complaints", FetchResult(items=history(clock, 400)), clock.now())
    stored, matched = Evaluator(store, 0.3, hits=book), Evaluator(store, 0.3)
    partial = 0
    for step in range(30):
        clock.advance(minutes=5)
        burst = 40 if step in (20, 21) else step % 2
        fresh = burst_items(clock, step, burst, timedelta(seconds=10))
        if step in (5, 6):  # an item dated ahead (it arrived while a round ran, or its clock is fast)
            ahead = clock.now() + timedelta(minutes=3)
            fresh.append(Item(source="complaints", id=f"ahead{step}", text=TEXTS[0].format(n=step),
                              published_at=ahead, attrs={"product": PRODUCTS[1]}))  # fmt: skip
        ingest.ingest("complaints", FetchResult(items=fresh), clock.now())
        now = clock.now()
        partial += stored.read_since(ANOMALY, now, set()) > now - ANOMALY.lookback()
        a = stored.evaluate_rule(ANOMALY, now, set())
        b = matched.evaluate_rule(ANOMALY, now, set())
        assert [(s.group, s.holds, s.evidence) for s in a] == [(s.group, s.holds, s.evidence) for s in b], step
    assert partial >= 29  # every round after the first read only what the detectors had not seen


def test_a_restart_carries_on_with_the_saved_detectors_instead_of_replaying_their_history(store: SqlStore) -> None:
    clock = FakeClock()
    rules = [ANOMALY]
    book = HitBook(store, lambda: rules)
    ingest = ingestor(store, book)
    ingest.ingest("complaints", FetchResult(items=history(clock, 400)), clock.now())
    running = Evaluator(store, 0.3, hits=book, saved=store)
    restarted: Evaluator | None = None
    held = 0
    for step in range(30):
        clock.advance(minutes=5)
        burst = 40 if step in (20, 21) else step % 2
        fresh = burst_items(clock, step, burst, timedelta(seconds=1))
        ingest.ingest("complaints", FetchResult(items=fresh), clock.now())
        now = clock.now()
        if step == 12:  # a new process over the same store: its detectors come from the last save
            restarted = Evaluator(store, 0.3, hits=HitBook(store, lambda: rules), saved=store)
            assert restarted.read_since(ANOMALY, now, set()) > now - ANOMALY.lookback()  # no replay
        a = running.evaluate_rule(ANOMALY, now, set())
        running.finish(now)
        if restarted is not None:
            b = restarted.evaluate_rule(ANOMALY, now, set())
            assert [(s.group, s.holds, s.evidence) for s in a] == [(s.group, s.holds, s.evidence) for s in b], step
            held += sum(s.holds for s in b)
    assert held, "the burst never held: the test proves nothing"


def test_a_detector_saved_with_other_parameters_is_replayed_not_used(store: SqlStore) -> None:
    clock = FakeClock()
    book = HitBook(store, lambda: [ANOMALY])
    ingest = ingestor(store, book)
    ingest.ingest("complaints", FetchResult(items=history(clock, 300)), clock.now())
    first = Evaluator(store, 0.3, hits=book, saved=store)
    first.evaluate_rule(ANOMALY, clock.now(), set())
    first.finish(clock.now())
    assert store.detector_states(ANOMALY.id), "nothing was saved"
    clock.advance(minutes=5)
    edited = rule(  # the rule edited: its detectors judge otherwise
        "odd-volume",
        [],
        window="5m",
        condition={
            "all": [
                {"anomaly": {"metric": "count", "history": "2d", "min_history": "6h", "season": "none", "rarity": 6}},
                {"threshold": {"metric": "count", "value": 1}},
            ]
        },
    )
    restarted = Evaluator(store, 0.3, hits=HitBook(store, lambda: [edited]), saved=store)
    now = clock.now()
    assert restarted.read_since(edited, now, set()) == now - edited.lookback()  # its history is replayed
    assert [(s.group, s.holds, s.evidence) for s in restarted.evaluate_rule(edited, now, set())] == [
        (s.group, s.holds, s.evidence) for s in Evaluator(store, 0.3).evaluate_rule(edited, now, set())
    ]


def test_an_incident_chart_replayed_from_stored_hits_is_the_one_replayed_from_the_items(store: SqlStore) -> None:
    clock = FakeClock()
    rules = list(RULES)
    book = HitBook(store, lambda: rules)
    book.ensure(rules, clock.now() - timedelta(days=2))  # built before the items came, as in a daemon
    ingest = ingestor(store, book)
    ingest.ingest("complaints", FetchResult(items=items(clock, 0, 300)), clock.now())
    ingest.ingest("news", FetchResult(items=items(clock, 0, 120, "news")), clock.now())
    opened = clock.now() - timedelta(hours=2)
    for r in rules:
        group = next(iter(book.groups_between(r, opened - timedelta(hours=8), clock.now()) or ()))
        incident = Incident(
            1, r.id, group, "product_quality", "t", IncidentStatus.OPEN, "high", opened, opened
        )  # fmt: skip
        start = opened - timedelta(hours=6)
        stored, end = chart_replay(store, r, incident, 0.3, clock.now())
        (matched,) = replay(
            [r],
            store.items_between(r.sources or None, start - r.lookback(), end),
            start,
            end,
            step_every=r.bucket,
            default_cut=0.3,
            chart_group=group,
            history_since=store.earliest_item(r.sources or None),
        )
        assert any(stored.values), f"{r.id} charts nothing: the test proves nothing"
        assert (stored.times, stored.values, numbers(stored.baseline), spans(stored, end)) == (
            matched.times,
            matched.values,
            numbers(matched.baseline),
            spans(matched, end),
        ), r.id


def numbers(values: list[float]) -> list[float | None]:
    return [None if v != v else v for v in values]  # NaN (no baseline) compares equal


@pytest.mark.parametrize(
    "metric", ["count", "negative_count", "negative_share", "stories", "negative_stories", "mean_sentiment"]
)
def test_detectors_warmed_from_bucket_totals_judge_as_those_replayed_from_the_items(
    store: SqlStore, metric: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    odd = rule(
        "odd-metric",
        [],
        window="5m",
        condition={"anomaly": {"metric": metric, "history": "1d", "min_history": "2h", "season": "none"}},
    )
    book = HitBook(store, lambda: [odd])
    ingest = ingestor(store, book)
    bucket = odd.bucket.total_seconds()
    edge = clock.now().timestamp() // bucket * bucket - 3 * bucket
    on_edges = [  # on a bucket's end, just after it, just before it: each bucket's own
        Item(source="complaints", id=f"edge{k}-{d}", text=TEXTS[k % 4].format(n=k),
             published_at=datetime.fromtimestamp(edge - k * bucket + d, UTC), attrs={"product": PRODUCTS[k % 2]})
        for k in range(40) for d in (0.0, 1e-6, -1e-6, 0.5)
    ]  # fmt: skip
    ingest.ingest("complaints", FetchResult(items=[*history(clock, 300), *on_edges]), clock.now())
    for step in range(3):
        clock.advance(minutes=5)
        burst = burst_items(clock, step, 30 * step, timedelta(seconds=7))
        ingest.ingest("complaints", FetchResult(items=burst), clock.now())
        now = clock.now()
        warmed = Evaluator(store, 0.3, hits=book)  # a new evaluator each round: each warms its detectors
        caplog.set_level(logging.INFO, logger="monitor.detect.evaluator")
        caplog.clear()
        warmed.prepare([odd], now)
        lines = [r.getMessage() for r in caplog.records if r.name == "monitor.detect.evaluator"]
        assert lines[0].startswith("rule odd-metric: starting 2 anomaly detector(s) from up to 1d"), lines
        assert lines[-1].startswith("rule odd-metric: anomaly detector(s) started in"), lines
        assert warmed.read_since(odd, now, set()) > now - odd.lookback()  # prepared: nothing to replay
        replayed = Evaluator(store, 0.3)
        a = [(s.group, s.holds, s.evidence) for s in warmed.evaluate_rule(odd, now, set())]
        b = [(s.group, s.holds, s.evidence) for s in replayed.evaluate_rule(odd, now, set())]
        assert a == b, step
        states = [{k[:2]: running_state(r) for k, r in e.detectors.items()} for e in (warmed, replayed)]
        assert states[0] == states[1], step  # the same detectors, fed the same values
        assert len(states[0]) == 2 and all(s["fed"] > 200 for s in states[0].values())
