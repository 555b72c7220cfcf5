"""What each console page shows, computed from the store, the rules and the clock (no HTML here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.config.roster import Roster
from monitor.config.rules import Anomaly, Immediate, Rule, Spike, leaves
from monitor.detect.matching import selects
from monitor.detect.severity import SEV_LABEL, rank
from monitor.detect.window import Observation, aggregate
from monitor.incidents.sla import muted
from monitor.models import ACTIVE_STATUSES, Incident, IncidentStatus, SignalState, TimelineEntry
from monitor.runtime.health import SourceLine, source_lines
from monitor.web.svg import Chart

STATUS_ORDER = {s: i for i, s in enumerate(("open", "acknowledged", "stable", "resolved", "closed"))}


def span(delta: timedelta) -> str:
    """``2 h 05 min``, ``3 d 4 h``, ``45 s``: a human length of time."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


# -- the board ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    incident: Incident
    active: bool
    sev: str
    age: str
    ack: str
    sla: str
    late: bool
    done: int
    total: int
    overdue: int


def board(incidents: Sequence[Incident], now: datetime, ack_timeout: timedelta) -> list[BoardRow]:
    """Active incidents first (most severe, then oldest), then the rest, newest first."""
    rows = [_row(i, now, ack_timeout) for i in incidents]
    active = sorted((r for r in rows if r.active), key=lambda r: (-rank(r.incident.severity), r.incident.opened_at))
    ended = sorted((r for r in rows if not r.active), key=lambda r: r.incident.opened_at, reverse=True)
    return active + ended


def _row(incident: Incident, now: datetime, ack_timeout: timedelta) -> BoardRow:
    done = sum(1 for e in incident.checklist if e.done_at)
    overdue = sum(1 for e in incident.checklist if e.done_at is None and e.due_at < now)
    active = incident.status in ACTIVE_STATUSES
    sla, late = sla_state(incident, now, ack_timeout, overdue)
    ack = f"by {incident.acknowledged_by}" if incident.acknowledged_by else "not acknowledged"
    return BoardRow(
        incident=incident,
        active=active,
        sev=SEV_LABEL.get(incident.severity, incident.severity),
        age=span((incident.resolved_at or incident.closed_at or now) - incident.opened_at),
        ack=ack,
        sla=sla,
        late=late,
        done=done,
        total=len(incident.checklist),
        overdue=overdue,
    )


def sla_state(incident: Incident, now: datetime, ack_timeout: timedelta, overdue: int) -> tuple[str, bool]:
    """What the SLA timers say (text, late?)."""
    if incident.status == IncidentStatus.OPEN:
        due = incident.opened_at + ack_timeout
        if now > due:
            return f"acknowledgement overdue by {span(now - due)}", True
        return f"acknowledge within {span(due - now)}", False
    if incident.status in ACTIVE_STATUSES:
        return (f"{overdue} item(s) overdue", True) if overdue else ("on time", False)
    return "—", False


# -- the incident page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistRow:
    item_id: str
    phase_title: str
    text: str
    text_en: str
    owner: str
    due: datetime
    done_at: datetime | None
    done_by: str | None
    overdue: bool


def checklist(incident: Incident, roster: Roster, now: datetime) -> list[ChecklistRow]:
    return [
        ChecklistRow(
            item_id=e.item_id,
            phase_title=e.phase_title,
            text=e.text,
            text_en=e.text_en,
            owner=roster.describe(e.owner),
            due=e.due_at,
            done_at=e.done_at,
            done_by=e.done_by,
            overdue=e.done_at is None and e.due_at < now,
        )
        for e in incident.checklist
    ]


def muted_until(timeline: list[TimelineEntry], now: datetime) -> datetime | None:
    if not muted(timeline, now):
        return None
    last = [e for e in timeline if e.kind == "muted"][-1]
    return datetime.fromisoformat(str(last.detail["until"]))


def describe(entry: TimelineEntry) -> str:
    """One timeline entry in words."""
    detail = dict(entry.detail)
    if entry.kind in ("ticked", "unticked"):
        return f"{entry.kind} “{detail.get('text', detail.get('item'))}”"
    if entry.kind == "note":
        return f"note: {detail.get('text', '')}"
    if entry.kind == "message_sent":
        return f"{detail.get('kind')} sent to {detail.get('destination')}"
    if entry.kind == "muted":
        return f"reminders muted for {detail.get('hours')} h"
    if "from" in detail:
        return f"{entry.kind} (was {detail['from']})"
    words = ", ".join(f"{k}: {v}" for k, v in detail.items() if not isinstance(v, dict | list))
    return f"{entry.kind.replace('_', ' ')}" + (f" — {words}" if words else "")


def incident_chart(store: Any, rule: Rule, incident: Incident, cut: float, now: datetime) -> Chart:
    """The rule's metric for the incident's group, 6 h before it opened until it ended (as the review's)."""
    from monitor.detect.backtest import spans
    from monitor.incidents.review import chart_replay

    replayed, end = chart_replay(store, rule, incident, cut, now)
    return Chart(
        title=f"#{incident.id} {rule.id} {incident.group}".strip(),
        times=replayed.times,
        values=replayed.values,
        baseline=replayed.baseline if any(b == b for b in replayed.baseline) else None,
        threshold=replayed.threshold,
        spans=spans(replayed, end),
        metric=replayed.metric,
    )


# -- the rules page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    rule: Rule
    state: str  # ok, warming up, pending, firing, silenced
    detail: str
    last_evaluated: datetime | None
    metric: str
    spark: list[float] = field(default_factory=list)


def rule_rows(
    store: Any, rules: Sequence[Rule], evaluated: Mapping[str, datetime], cut: float, now: datetime
) -> list[RuleRow]:
    active = [i for i in store.incidents(active_only=True)]
    return [_rule_row(store, rule, active, evaluated.get(rule.id), cut, now) for rule in rules]


def _rule_row(
    store: Any, rule: Rule, active: list[Incident], evaluated: datetime | None, cut: float, now: datetime
) -> RuleRow:
    states = store.rule_states(rule.id)
    firing = sorted(g or "(all)" for g, s in states.items() if s.state == SignalState.FIRING)
    pending = sorted(g or "(all)" for g, s in states.items() if s.state == SignalState.PENDING)
    mine = [i for i in active if i.rule_id == rule.id]
    silenced = [i for i in mine if muted(store.timeline(i.id), now)]
    first = leaves(rule.condition)[0]
    metric = "count" if isinstance(first, Immediate) else first.metric  # an immediate rule counts reports
    spark = hourly(store, rule, metric, cut, now)
    if silenced:
        ids = ", ".join(f"#{i.id}" for i in silenced)
        return RuleRow(rule, "silenced", f"reminders muted on {ids}", evaluated, metric, spark)
    if firing:
        return RuleRow(rule, "firing", ", ".join(firing), evaluated, metric, spark)
    if pending:
        return RuleRow(rule, "pending", ", ".join(pending), evaluated, metric, spark)
    warming = warming_up(rule, store.earliest_item(rule.all_sources() or None), now)
    if warming:
        return RuleRow(rule, "warming up", warming, evaluated, metric, spark)
    return RuleRow(rule, "ok", "", evaluated, metric, spark)


def warming_up(rule: Rule, history_since: datetime | None, now: datetime) -> str:
    """Why the rule cannot fire yet for lack of history ("" when it can)."""
    needed = timedelta(0)
    for leaf in leaves(rule.condition):
        if isinstance(leaf, Spike):
            needed = max(needed, (leaf.window or rule.window) + leaf.baseline)
        elif isinstance(leaf, Anomaly):
            needed = max(needed, leaf.min_history)
    if not needed:
        return ""
    have = now - history_since if history_since else timedelta(0)
    if have >= needed:
        return ""
    return f"{span(have) if history_since else 'no data'} of history, {span(needed)} needed"


def hourly(store: Any, rule: Rule, metric: str, cut: float, now: datetime, hours: int = 24) -> list[float]:
    """The rule's metric per hour over the last ``hours`` (every group together)."""
    start = now - timedelta(hours=hours)
    items = store.items_between(rule.all_sources() or None, start, now)
    observed = [Observation(s.item.published_at, s.item.count, s.sentiment) for s in items if selects(rule, None, s)]
    values = []
    for hour in range(hours):
        begin = start + timedelta(hours=hour)
        value = aggregate(observed, begin, begin + timedelta(hours=1), cut).metric(metric)
        values.append(value)
    return values


# -- the sources page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRow:
    line: SourceLine
    per_day: list[int]


def source_rows(store: Any, configured: Mapping[str, tuple[str, timedelta | None]], now: datetime) -> list[SourceRow]:
    lines = source_lines(store, configured, now)
    days = [store.items_fetched_since(now - timedelta(days=d)) for d in range(7, -1, -1)]
    rows = []
    for line in lines:
        name = line.status.name
        cumulative = [day.get(name, 0) for day in days]
        per_day = [cumulative[i] - cumulative[i + 1] for i in range(len(cumulative) - 1)]
        rows.append(SourceRow(line, per_day))
    return rows
