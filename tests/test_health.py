"""Source health: down after N failures or silence, one message each way, backoff, held rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from monitor.app import build_engine
from monitor.config.loading import Definitions
from monitor.config.rules import Rule, RuleSet
from monitor.config.settings import AppConfig
from monitor.detect.evaluator import Evaluator
from monitor.models import FetchResult, Item, ScoredItem, SignalState
from monitor.notify.render import Renderer, SlackRenderer, TextRenderer
from monitor.runtime.engine import Engine
from monitor.runtime.health import PollBook, SourceMonitor, source_status
from monitor.store import SqlStore, open_store
from monitor.testing import FakeClock, FakeScorer, FakeSource

NOW = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
RENDERERS: dict[str, Renderer] = {"console": TextRenderer(), "slack": SlackRenderer()}


def config(**source: Any) -> AppConfig:
    return AppConfig.model_validate(
        {"sources": [{"type": "rss", "name": "news", "url": "https://news.example.com/a.xml", **source}]}
    )


def engine_for(store: SqlStore, clock: FakeClock, source: FakeSource, cfg: AppConfig | None = None) -> Engine:
    wiring = build_engine(
        cfg or config(),
        Definitions(RuleSet([]), {}),
        store,
        clock,
        scorer=FakeScorer(),
        sources={source.name: source},
        notifiers={},
        renderers=RENDERERS,
    )
    return wiring.engine


def monitor(store: SqlStore, clock: FakeClock, silence: timedelta | None = None) -> SourceMonitor:
    return SourceMonitor(store, {"news": silence}, clock, RENDERERS, rules_for=lambda name: ["brand-crisis"])


def post(n: int, at: datetime) -> Item:
    return Item(source="news", id=f"n-{n}", text=f"新闻 {n}", published_at=at)


def messages(store: SqlStore) -> list[tuple[str, str]]:
    return [(m.destination, m.kind) for m, _ in store.messages()]


def test_down_after_three_failures_announced_once_then_back_up_once(store: SqlStore) -> None:
    clock, source = FakeClock(NOW), FakeSource("news")
    engine, health = engine_for(store, clock, source), monitor(store, clock)
    source.fail_with = "HTTP 503 Service Unavailable"
    for _ in range(2):
        engine.poll("news", force=True)
    assert health.down_sources(clock.now()) == set()
    assert health.statuses(clock.now())[0].state == "failing"
    engine.poll("news", force=True)
    assert health.down_sources(clock.now()) == {"news"}
    assert health.check(clock.now()) == 1
    assert health.check(clock.now()) == 0  # announced once
    assert messages(store) == [("console", "source_down"), ("slack", "source_down")]
    (console, _), (slack, _) = store.messages()
    assert console.payload["text"].startswith("⚠️ Source news is down: 3 failed polls in a row; last error: HTTP 503")
    assert "will not auto-resolve until it is back: brand-crisis" in console.payload["text"]
    assert slack.payload["blocks"][0]["type"] == "section"

    # a restart: a new monitor over the same store does not announce again
    assert monitor(store, clock).check(clock.now()) == 0

    source.fail_with = None
    clock.advance(hours=2)
    engine.poll("news", force=True)
    assert health.down_sources(clock.now()) == set()
    assert health.check(clock.now()) == 1
    assert monitor(store, clock).check(clock.now()) == 0
    assert [k for _, k in messages(store)] == ["source_down", "source_down", "source_up", "source_up"]
    up = store.messages()[2][0]
    assert up.payload["text"] == "✅ Source news is back (down for 2h); its rules resolve normally again."


def test_slack_text_is_escaped(store: SqlStore) -> None:
    clock, source = FakeClock(NOW), FakeSource("news")
    engine = engine_for(store, clock, source)
    source.fail_with = "<!channel> HTTP 500"
    for _ in range(3):
        engine.poll("news", force=True)
    monitor(store, clock).check(clock.now())
    slack = store.messages()[1][0]
    assert (
        "<!channel>" not in slack.payload["text"] and "&lt;!channel&gt;" in slack.payload["blocks"][0]["text"]["text"]
    )


def test_silent_past_expected_silence_is_down(store: SqlStore) -> None:
    clock, source = FakeClock(NOW), FakeSource("news", [post(1, NOW)])
    engine = engine_for(store, clock, source)
    health = monitor(store, clock, silence=timedelta(hours=6))
    engine.poll("news", force=True)
    clock.advance(hours=5)
    engine.poll("news", force=True)  # succeeds, nothing new
    assert health.down_sources(clock.now()) == set()
    clock.advance(hours=1)
    assert health.down_sources(clock.now()) == {"news"}
    (status,) = health.statuses(clock.now())
    assert status.state == "silent"
    assert status.reason == "no new item since 2026-11-20 00:00 UTC (expected within 6h)"
    assert health.check(clock.now()) == 1
    assert store.messages()[0][0].payload["text"].startswith("⚠️ Source news is silent: no new item")
    source.add(post(2, clock.now()))
    engine.poll("news", force=True)
    assert health.down_sources(clock.now()) == set()


def test_a_source_that_never_yielded_anything_is_silent_from_its_first_poll(store: SqlStore) -> None:
    clock, source = FakeClock(NOW), FakeSource("news")
    engine_for(store, clock, source).poll("news")
    clock.advance(hours=6)
    (status,) = monitor(store, clock, silence=timedelta(hours=6)).statuses(clock.now())
    assert (status.state, status.reason) == ("silent", "no new item since its first poll (expected within 6h)")


def test_classification_is_pure() -> None:
    assert source_status("x", None, {}, None, NOW).state == "new"


# -- backoff ----------------------------------------------------------------------------------


def test_backoff_skips_polls_doubling_up_to_an_hour(store: SqlStore) -> None:
    clock, source = FakeClock(NOW), FakeSource("news")
    engine = engine_for(store, clock, source, config(interval="5m"))
    source.fail_with = "HTTP 500"
    polled_at = []
    for _ in range(12 * 6):  # six hours of a scheduler firing every 5 minutes
        before = source.polls
        engine.poll("news")
        if source.polls > before:
            polled_at.append(int((clock.now() - NOW).total_seconds() // 60))
        clock.advance(minutes=5)
    gaps = [b - a for a, b in pairwise(polled_at)]
    assert gaps[:5] == [10, 20, 40, 60, 60]  # 5m x 2^n, capped at 1 h
    # back to normal after a success
    source.fail_with = None
    clock.advance(hours=1)
    engine.poll("news")
    before = source.polls
    clock.advance(minutes=5)
    engine.poll("news")
    assert source.polls == before + 1


def test_backoff_is_shown_and_survives_a_restart(tmp_path: Any) -> None:
    db = str(tmp_path / "b.db")
    clock, source = FakeClock(NOW), FakeSource("news")
    store = open_store(db)
    engine = engine_for(store, clock, source, config(interval="5m"))
    source.fail_with = "HTTP 500"
    engine.poll("news")
    engine.poll("news", force=True)  # two failures: wait 20 minutes (minus the jitter allowance)
    (status,) = monitor(store, clock).statuses(clock.now())
    assert status.backoff_until == NOW + timedelta(minutes=19, seconds=30)
    store.close()
    store = open_store(db)
    engine = engine_for(store, clock, source, config(interval="5m"))
    clock.advance(minutes=10)
    polls = source.polls
    engine.poll("news")
    assert source.polls == polls  # still backing off after the restart
    clock.advance(minutes=10)
    engine.poll("news")
    assert source.polls == polls + 1
    store.close()


def test_retry_after_is_a_floor(store: SqlStore) -> None:
    book = PollBook(store, {"news": timedelta(minutes=5)})
    store.record_fetch("news", NOW, error="HTTP 429", items=0)
    health = store.source_health_of("news")
    assert book.next_poll("news", health, retry_after=3600) == NOW + timedelta(hours=1)
    assert book.next_poll("news", health, retry_after=None) == NOW + timedelta(minutes=9, seconds=30)


def test_a_cycle_polls_even_in_backoff(store: SqlStore) -> None:
    clock, source = FakeClock(NOW), FakeSource("news")
    engine = engine_for(store, clock, source, config(interval="5m"))
    source.fail_with = "HTTP 500"
    engine.cycle()
    engine.cycle()
    assert source.polls == 2


# -- rules fed by a down source ------------------------------------------------------------------


def test_a_rule_fed_by_a_down_source_does_not_resolve(store: SqlStore) -> None:
    clock = FakeClock(NOW)
    rule = Rule.model_validate(
        {
            "id": "news-burst",
            "description": "d",
            "playbook": "p",
            "sources": ["news"],
            "window": "1h",
            "condition": {"threshold": {"metric": "count", "op": ">=", "value": 3}},
            "for": "0m",
            "keep_firing_for": "10m",
        }
    )
    health = monitor(store, clock)
    evaluator = Evaluator(store, 0.3, sources_down=health.down_sources_now)
    store.add_items([ScoredItem(post(i, NOW - timedelta(minutes=1)), 0.9, None) for i in range(3)], NOW)
    assert [s.state for s in evaluator.evaluate([rule], clock.now())] == [SignalState.FIRING]

    for _ in range(3):  # the news source fails: the data stops because the source is down
        store.record_fetch("news", clock.now(), error="HTTP 500", items=0)
    clock.advance(hours=3)
    assert [s.state for s in evaluator.evaluate([rule], clock.now())] == [SignalState.FIRING]

    store.record_fetch("news", clock.now(), error=None, items=0)  # back: the quiet is real now
    assert [s.state for s in evaluator.evaluate([rule], clock.now())] == [SignalState.RESOLVED]


def test_the_engine_wires_health_into_the_evaluator(store: SqlStore) -> None:
    clock, source = FakeClock(NOW), FakeSource("news")
    wiring = build_engine(
        config(),
        Definitions(RuleSet([]), {}),
        store,
        clock,
        scorer=FakeScorer(),
        sources={"news": source},
        notifiers={},
        renderers=RENDERERS,
    )
    assert wiring.health is not None
    source.fail_with = "boom"
    for _ in range(3):
        wiring.engine.poll("news", force=True)
    assert wiring.engine.evaluator.sources_down() == {"news"}
    assert wiring.health.check_now() == 1


def test_a_source_that_raises_counts_as_failing(store: SqlStore) -> None:
    class Broken(FakeSource):
        def fetch(self, now: datetime) -> FetchResult:
            raise RuntimeError("bug")

    clock = FakeClock(NOW)
    engine = engine_for(store, clock, Broken("news"))
    for _ in range(3):
        engine.poll("news", force=True)
    assert monitor(store, clock).down_sources(clock.now()) == {"news"}
