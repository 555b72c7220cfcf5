"""The pipeline end to end with fakes: source -> score -> rules -> incident -> outbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.models import IncidentStatus, Item
from monitor.notify.render import TextRenderer
from monitor.runtime.engine import Engine
from monitor.store import SqlStore, open_store
from monitor.testing import FakeClock, FakeScorer, FakeSource, RecordingNotifier

from .conftest import ROOT

PRODUCT = "暖居 X3 电暖器"


def complaint(clock: FakeClock, n: int, minutes_ago: float, category: str = "product_quality") -> Item:
    return Item(
        source="complaints",
        id=f"c-{n}",
        text=f"电暖器用了两天就坏了，质量太差，要求退款 #{n}",
        published_at=clock.now() - timedelta(minutes=minutes_ago),
        kind="complaint",
        category=category,
        attrs={"product": PRODUCT, "region": "杭州"},
    )


def make_engine(store: SqlStore, clock: FakeClock, source: FakeSource, notifier: RecordingNotifier) -> Engine:
    config = AppConfig(
        rules_dir=str(ROOT / "rules"),
        playbooks_dir=str(ROOT / "playbooks"),
        scoring=ScoringConfig(negative_below=0.3),
    )
    definitions = load_definitions(config, check_sources=False)
    wiring = build_engine(
        config,
        definitions,
        store,
        clock,
        scorer=FakeScorer(),
        sources={"complaints": source},
        notifiers={"console": notifier},
        renderers={"console": TextRenderer()},
    )
    return wiring.engine


def open_incident(engine: Engine, clock: FakeClock, source: FakeSource) -> None:
    """A surge of 12 quality complaints, evaluated until `for: 10m` has passed and the incident opened."""
    surge(clock, source, 0, 12)
    for _ in range(3):
        engine.cycle()
        clock.advance(minutes=5)


def surge(clock: FakeClock, source: FakeSource, start: int, count: int) -> None:
    """``count`` complaints in the last 10 minutes, after a history going back 3 days."""
    if not source.items:
        source.add(complaint(clock, -1, minutes_ago=3 * 24 * 60, category="logistics"))
    source.add(*(complaint(clock, start + i, minutes_ago=i % 10) for i in range(count)))


def test_a_complaint_surge_opens_one_incident_with_its_playbook(store: SqlStore) -> None:
    clock, source, notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
    engine = make_engine(store, clock, source, notifier)
    source.add(*(complaint(clock, i, minutes_ago=60 * (3 * i + 2)) for i in range(10)))  # calm: 1 every 3h
    engine.cycle()
    assert store.incidents() == []

    surge(clock, source, 100, 12)
    for _ in range(4):  # `for: 10m` -> pending first, firing once it has held 10 minutes
        engine.cycle()
        clock.advance(minutes=5)
    incidents = store.incidents()
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident.rule_id == "product-quality-complaint-surge"
    assert incident.group == f"product={PRODUCT}"
    assert incident.playbook == "product_quality"
    assert incident.status == IncidentStatus.OPEN
    assert incident.checklist and all(e.due_at >= incident.opened_at for e in incident.checklist)
    assert notifier.kinds()[:2] == ["alert", "checklist"]
    alert, checklist = notifier.delivered[:2]
    assert "count 12 in 1h vs baseline" in alert[0].payload["text"]
    assert checklist[1] == "ref-" + str(alert[0].id)  # the checklist is threaded under the alert

    surge(clock, source, 200, 12)  # more signals update the open incident, never open another
    engine.cycle()
    assert len(store.incidents()) == 1


def test_severity_escalates_on_growth_and_is_posted_to_the_thread(store: SqlStore) -> None:
    clock, source, notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
    engine = make_engine(store, clock, source, notifier)
    open_incident(engine, clock, source)
    assert store.incidents()[0].severity == "high"
    surge(clock, source, 100, 40)
    engine.poll("complaints")
    engine.evaluate()
    engine.deliver()
    incident = store.incidents()[0]
    assert incident.severity == "critical"
    changes = [e.kind for e in store.timeline(incident.id) if e.kind not in ("reminder", "message_sent")]
    assert changes == ["opened", "severity_raised"]
    assert notifier.kinds()[-3:] == ["update", "alert", "checklist"]
    assert "severity raised to SEV1 (critical)" in notifier.delivered[-3][0].payload["text"]
    assert notifier.delivered[-2][2] is not None  # the top message is edited in place
    assert notifier.delivered[-1][2] is not None  # and the checklist, which gained the critical items


def test_restart_never_counts_an_item_twice(tmp_path: Path) -> None:
    clock, source, notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
    db = str(tmp_path / "c.db")
    surge(clock, source, 0, 5)
    first = open_store(db)
    make_engine(first, clock, source, notifier).cycle()
    first.close()
    second = open_store(db)
    scorer_before = second.item_count()
    make_engine(second, clock, source, notifier).cycle()
    assert second.item_count() == scorer_before == 6
    second.close()


def test_outage_delays_messages_but_delivers_all_in_order(store: SqlStore) -> None:
    clock, source, notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
    engine = make_engine(store, clock, source, notifier)
    notifier.fail_next(3)
    open_incident(engine, clock, source)
    assert notifier.kinds() == []
    for _ in range(10):
        clock.advance(minutes=1)
        engine.deliver()
    assert notifier.kinds()[:2] == ["alert", "checklist"]
    assert [m.id for m, _, _ in notifier.delivered] == sorted(m.id for m, _, _ in notifier.delivered)
    assert store.outbox_counts() == {"sent": len(notifier.delivered)}


def test_a_failing_source_is_recorded_and_does_not_stop_the_cycle(store: SqlStore) -> None:
    clock, source, notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
    engine = make_engine(store, clock, source, notifier)
    source.fail_with = "HTTP 500"
    engine.cycle()
    engine.cycle()
    (health,) = store.source_health()
    assert health.consecutive_failures == 2 and health.last_error == "HTTP 500"
    assert engine.metrics.get("source_errors_total", source="complaints") == 2
    source.fail_with = None
    engine.cycle()
    assert store.source_health()[0].consecutive_failures == 0
