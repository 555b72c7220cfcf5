"""The pure incident core: the lifecycle table drives the operations people run, and a
signal's decision follows from the history alone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig
from monitor.errors import InvalidOperation
from monitor.incidents import core
from monitor.incidents.ops import IncidentOps
from monitor.models import ACTIVE_SQL, ACTIVE_STATUSES, Incident, IncidentStatus, Signal, SignalState
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore
from monitor.store.schema import MIGRATIONS

from .conftest import ROOT

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ACTIONS: tuple[core.Action, ...] = ("acknowledge", "stable", "resolve", "close", "close_forced")


def run_action(ops: IncidentOps, incident_id: int, action: core.Action) -> Incident:
    if action == "acknowledge":
        return ops.acknowledge(incident_id, "U1", NOW)
    if action == "stable":
        return ops.mark_stable(incident_id, "U1", NOW)
    if action == "resolve":
        return ops.resolve(incident_id, "U1", NOW)
    return ops.close(incident_id, "U1", NOW, force=action == "close_forced")


def incident_in(store: SqlStore, status: IncidentStatus, n: int) -> int:
    incident = store.open_incident(
        rule_id=f"r{n}",
        group="",
        playbook="product-safety",
        title="t",
        severity="high",
        at=NOW,
        evidence=(),
        top_items=(),
        checklist=(),
    )
    path = {
        IncidentStatus.OPEN: [],
        IncidentStatus.ACKNOWLEDGED: [IncidentStatus.ACKNOWLEDGED],
        IncidentStatus.STABLE: [IncidentStatus.ACKNOWLEDGED, IncidentStatus.STABLE],
        IncidentStatus.RESOLVED: [IncidentStatus.RESOLVED],
        IncidentStatus.CLOSED: [IncidentStatus.RESOLVED, IncidentStatus.CLOSED],
    }[status]
    for step in path:
        store.set_status(incident.id, step, NOW, "U0")
    return incident.id


@pytest.mark.parametrize(("status", "action"), list(itertools.product(IncidentStatus, ACTIONS)))
def test_every_operation_follows_the_lifecycle_table(
    store: SqlStore, status: IncidentStatus, action: core.Action
) -> None:
    definitions = load_definitions(
        AppConfig(rules_dir=str(ROOT / "rules"), playbooks_dir=str(ROOT / "playbooks")), check_sources=False
    )
    ops = IncidentOps(store, {"console": TextRenderer()}, definitions.playbooks)
    incident_id = incident_in(store, status, 1)
    target = core.LIFECYCLE.get((status, action))
    if target is None:
        with pytest.raises(InvalidOperation, match=f"incident {incident_id} "):
            run_action(ops, incident_id, action)
        assert store.incident(incident_id).status == status
    else:
        assert run_action(ops, incident_id, action).status == target
        assert store.timeline(incident_id)[-1].kind == target.value


def test_the_table_reaches_closed_from_every_status_but_closed_only_by_force_before_resolution() -> None:
    for status in IncidentStatus:
        forced = core.LIFECYCLE.get((status, "close_forced"))
        assert forced == (None if status == IncidentStatus.CLOSED else IncidentStatus.CLOSED)
    assert {s for (s, a) in core.LIFECYCLE if a == "close"} == {IncidentStatus.RESOLVED}


def test_active_is_defined_once_and_the_schema_index_uses_the_same_statuses() -> None:
    assert {s for (s, a) in core.LIFECYCLE if a == "resolve"} == set(ACTIVE_STATUSES)
    assert any(ACTIVE_SQL in statement for migration in MIGRATIONS for statement in migration)
    monitor = ROOT / "monitor"
    literal = "'open', 'acknowledged', 'stable'"
    where = [p for p in monitor.rglob("*.py") if literal in p.read_text(encoding="utf-8")]
    assert [p.relative_to(ROOT).as_posix() for p in where] == ["monitor/store/schema.py"]  # a migration, frozen


def signal(state: SignalState = SignalState.FIRING, *, transitioned: bool = False) -> Signal:
    return Signal("r1", "", state, NOW, holds=True, severity="high", transitioned=transitioned, since=NOW)


def an_incident(**changes: object) -> Incident:
    fields: dict[str, object] = dict(
        id=7,
        rule_id="r1",
        group="",
        playbook="product-safety",
        title="t",
        status=IncidentStatus.OPEN,
        severity="high",
        opened_at=NOW - timedelta(hours=2),
        updated_at=NOW,
    )
    fields.update(changes)
    return Incident(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rule():  # type: ignore[no-untyped-def]
    definitions = load_definitions(
        AppConfig(rules_dir=str(ROOT / "rules"), playbooks_dir=str(ROOT / "playbooks")), check_sources=False
    )
    return next(r for r in definitions.rules.rules if r.realert > timedelta(0))


def test_decisions_follow_from_the_history(rule) -> None:  # type: ignore[no-untyped-def]
    active = an_incident()
    assert core.decide(signal(), rule, core.History(active=active), NOW) == core.Decision("update", active)
    assert core.decide(signal(), rule, core.History(), NOW) == core.Decision("open")
    assert core.decide(signal(), rule, core.History(episode_handled=True), NOW) == core.NOTHING
    resolved = an_incident(status=IncidentStatus.RESOLVED, resolved_at=NOW - rule.realert / 2)
    assert core.decide(signal(), rule, core.History(latest=resolved), NOW) == core.Decision("fired_again", resolved)
    long_ago = an_incident(status=IncidentStatus.RESOLVED, resolved_at=NOW - rule.realert)
    assert core.decide(signal(), rule, core.History(latest=long_ago), NOW) == core.Decision("open")
    other = an_incident(id=8, rule_id="other", playbook=rule.playbook)
    assert core.decide(signal(), rule, core.History(related=[other]), NOW) == core.Decision("attach", other)
    ended = signal(SignalState.RESOLVED, transitioned=True)
    assert core.decide(ended, rule, core.History(active=active), NOW) == core.Decision("suggest_resolution", active)
    assert core.decide(ended, rule, core.History(), NOW) == core.NOTHING
    assert core.decide(signal(SignalState.PENDING), rule, core.History(active=active), NOW) == core.NOTHING
