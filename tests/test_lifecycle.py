"""A full incident's life with a fake clock: open, escalate, remind, tick, resolve, close, review."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, IncidentsConfig, ScoringConfig
from monitor.errors import InvalidOperation
from monitor.incidents.ops import IncidentOps
from monitor.incidents.review import review_data, review_markdown
from monitor.models import IncidentStatus
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSource, RecordingNotifier

from .conftest import ROOT
from .test_engine import open_incident, surge

ROSTER = """
people:
  - {name: 王芳, slack: U0LEAD001, roles: [crisis_lead]}
  - {name: 赵总, slack: U0BOSS001, roles: [management]}
  - {name: 李强, slack: U0QUAL001, roles: [quality, safety]}
escalation: [crisis_lead, management]
"""


@pytest.fixture
def world(store: SqlStore, tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    config = AppConfig(
        rules_dir=str(ROOT / "rules"),
        playbooks_dir=str(ROOT / "playbooks"),
        roster=str(tmp_path / "roster.yaml"),
        scoring=ScoringConfig(negative_below=0.3),
        incidents=IncidentsConfig(),
    )
    definitions = load_definitions(config, check_sources=False)
    clock, source, notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
    engine = build_engine(
        config,
        definitions,
        store,
        clock,
        scorer=FakeScorer(),
        sources={"complaints": source},
        notifiers={"console": notifier},
        renderers={"console": TextRenderer()},
    ).engine
    ops = IncidentOps(store, {"console": TextRenderer()}, definitions.playbooks)
    return clock, source, notifier, engine, ops


def texts(notifier: RecordingNotifier) -> list[str]:
    return [m.payload["text"] for m, _, _ in notifier.delivered]


def test_an_incident_from_first_signal_to_closed_review(world, store: SqlStore) -> None:  # type: ignore[no-untyped-def]
    clock, source, notifier, engine, ops = world
    open_incident(engine, clock, source)
    (incident,) = store.incidents()
    assert incident.severity == "high" and incident.status == IncidentStatus.OPEN
    opened = incident.opened_at

    # nobody acknowledges: after 15 minutes the crisis lead, after 30 the manager
    clock.set(opened + timedelta(minutes=16))
    engine.check_sla()
    engine.deliver()
    assert any("escalating to crisis_lead (王芳)" in t for t in texts(notifier))
    clock.set(opened + timedelta(minutes=31))
    engine.check_sla()
    engine.deliver()
    assert any("escalating to management (赵总)" in t for t in texts(notifier))
    escalations = [e for e in store.timeline(incident.id) if e.kind == "escalated"]
    assert [e.detail["role"] for e in escalations] == ["crisis_lead", "management"]

    # growth escalates the severity
    surge(clock, source, 100, 40)
    engine.poll("complaints")
    engine.evaluate()
    assert store.incident(incident.id).severity == "critical"

    # overdue items are reminded, with their owners
    engine.check_sla()
    engine.deliver()
    reminders = [t for t in texts(notifier) if "overdue item(s)" in t]
    assert reminders and "crisis_lead (王芳), due" in reminders[-1]

    ack = ops.acknowledge(incident.id, "王芳", clock.now())
    assert ack.status == IncidentStatus.ACKNOWLEDGED and ack.acknowledged_by == "王芳"
    with pytest.raises(InvalidOperation, match=r"already|only an open"):
        ops.acknowledge(incident.id, "王芳", clock.now())

    first_item = ack.checklist[0].item_id
    ticked = ops.tick(incident.id, first_item, "李强", clock.now())
    assert ticked.checklist[0].done_by == "李强"
    with pytest.raises(InvalidOperation, match="no checklist item 'nope'"):
        ops.tick(incident.id, "nope", "李强", clock.now())
    with pytest.raises(InvalidOperation, match="already ticked"):
        ops.tick(incident.id, first_item, "李强", clock.now())
    ops.note(incident.id, "已联系质检部门复核批次", "王芳", clock.now())

    with pytest.raises(InvalidOperation, match="resolve it first"):
        ops.close(incident.id, "王芳", clock.now())
    ops.resolve(incident.id, "王芳", clock.now())
    closed = ops.close(incident.id, "王芳", clock.now())
    assert closed.status == IncidentStatus.CLOSED
    engine.deliver()

    kinds = [e.kind for e in store.timeline(incident.id)]
    for expected in (
        "opened",
        "escalated",
        "severity_raised",
        "reminder",
        "acknowledged",
        "ticked",
        "note",
        "resolved",
        "closed",
    ):
        assert expected in kinds
    assert kinds.index("acknowledged") < kinds.index("ticked") < kinds.index("resolved") < kinds.index("closed")
    sent = texts(notifier)
    assert any("acknowledged by 王芳" in t for t in sent)
    assert any("note from 王芳: 已联系质检部门复核批次" in t for t in sent)
    assert any("closed by 王芳" in t for t in sent)

    data = review_data(store.incident(incident.id), store.timeline(incident.id))
    assert data["checklist"]["done"] == 1 and data["acknowledged_by"] == "王芳"
    markdown = review_markdown(store.incident(incident.id), store.timeline(incident.id))
    assert "## Lessons" in markdown and "| 王芳 | note |" in markdown


def test_closing_an_unacknowledged_incident_needs_force(world, store: SqlStore) -> None:  # type: ignore[no-untyped-def]
    clock, source, _, engine, ops = world
    open_incident(engine, clock, source)
    (incident,) = store.incidents()
    with pytest.raises(InvalidOperation, match=r"never acknowledged.*--force"):
        ops.close(incident.id, "王芳", clock.now())
    assert ops.close(incident.id, "王芳", clock.now(), force=True).status == IncidentStatus.CLOSED


def test_a_resolved_incident_is_not_reopened_while_the_same_episode_fires(world, store: SqlStore) -> None:  # type: ignore[no-untyped-def]
    clock, source, _, engine, ops = world
    open_incident(engine, clock, source)
    (incident,) = store.incidents()
    ops.resolve(incident.id, "王芳", clock.now())
    engine.cycle()
    assert len(store.incidents()) == 1


def test_firing_again_soon_after_resolution_is_noted_not_realerted(world, store: SqlStore) -> None:  # type: ignore[no-untyped-def]
    clock, source, _, engine, ops = world
    open_incident(engine, clock, source)
    (incident,) = store.incidents()
    clock.advance(hours=2)  # the surge is over: the rule resolves (keep_firing_for: 1h) and suggests resolving
    engine.cycle()
    ops.resolve(incident.id, "王芳", clock.now())
    # a new episode within realert (30m) of the resolution: noted on the incident, no new alert
    surge(clock, source, 500, 12)
    for _ in range(3):
        engine.cycle()
        clock.advance(minutes=5)
    assert len(store.incidents()) == 1
    assert [e.kind for e in store.timeline(incident.id)].count("fired_again") == 1
    # hours later, a new episode opens a new incident
    clock.advance(hours=3)
    engine.cycle()
    surge(clock, source, 900, 12)
    for _ in range(3):
        engine.cycle()
        clock.advance(minutes=5)
    assert len(store.incidents()) == 2


def test_signal_updates_are_in_the_timeline_at_most_once_per_bucket(world, store: SqlStore) -> None:  # type: ignore[no-untyped-def]
    clock, source, _, engine, _ = world
    open_incident(engine, clock, source)
    (incident,) = store.incidents()
    for n in range(6):  # a few more complaints every minute for 6 minutes
        surge(clock, source, 200 + n * 10, 14 + n)
        engine.poll("complaints")
        engine.evaluate()
        clock.advance(minutes=1)
    signals = [e for e in store.timeline(incident.id) if e.kind == "signal"]
    assert 1 <= len(signals) <= 2  # changed every minute, written at most once per 5-minute bucket
    assert "count" in signals[0].detail["evidence"][0]


def test_an_episode_still_firing_after_realert_since_its_resolution_opens_a_new_incident(
    world, store: SqlStore
) -> None:  # type: ignore[no-untyped-def]
    clock, source, _, engine, ops = world
    open_incident(engine, clock, source)
    (incident,) = store.incidents()
    ops.resolve(incident.id, "王芳", clock.now())
    for n in range(4):  # the surge goes on for 40 minutes: the rule never stops firing
        surge(clock, source, 1000 + 20 * n, 12)
        engine.cycle()
        if n < 3:
            assert len(store.incidents()) == 1, f"within realert (30m) of the resolution, minute {10 * n}"
        clock.advance(minutes=10)
    assert len(store.incidents()) == 2
    assert store.incidents()[-1].status == "open"
