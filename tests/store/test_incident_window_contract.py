"""The store's bounded incident lookup (``incidents_live_since``), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.models import IncidentStatus
from monitor.store import SqlStore

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def incident(store: SqlStore, rule: str, group: str, *statuses: IncidentStatus, at: datetime = NOW) -> int:
    opened = store.open_incident(
        rule_id=rule,
        group=group,
        playbook="p",
        title="t",
        severity="high",
        at=at,
        evidence=(),
        top_items=(),
        checklist=(),
    )
    for status in statuses:
        store.set_status(opened.id, status, at, "U0")
    return opened.id


def test_only_active_incidents_and_those_ended_inside_the_window_are_returned(store: SqlStore) -> None:
    old = incident(store, "r1", "g", IncidentStatus.RESOLVED, at=NOW - timedelta(days=30))
    recent = incident(store, "r2", "g", IncidentStatus.RESOLVED, IncidentStatus.CLOSED, at=NOW)
    active = incident(store, "r3", "g", IncidentStatus.ACKNOWLEDGED, at=NOW - timedelta(days=60))
    incident(store, "r4", "other", IncidentStatus.RESOLVED, at=NOW)
    since = NOW - timedelta(minutes=30)
    found = [i.id for i in store.incidents_live_since("g", since)]
    assert found == [recent, active]
    assert old not in found
    assert [i.id for i in store.incidents_live_since("g", NOW)] == [active]  # the window excludes its start
