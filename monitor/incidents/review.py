"""Post-incident review: what happened, how fast we responded, what to learn."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.config.durations import format_duration
from monitor.detect.severity import label
from monitor.incidents.statements import fold
from monitor.incidents.statements import review_lines as statement_lines
from monitor.models import ChecklistEntry, Incident, TimelineEntry

if TYPE_CHECKING:
    from monitor.config.rules import Rule
    from monitor.detect.backtest import RuleReplay


def _t(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _since(start: datetime, end: datetime | None) -> str:
    return "—" if end is None else format_duration(timedelta(seconds=int((end - start).total_seconds())))


def first(timeline: list[TimelineEntry], kind: str) -> TimelineEntry | None:
    return next((e for e in timeline if e.kind == kind), None)


def item_outcome(entry: ChecklistEntry) -> str:
    if entry.done_at is None:
        return "not done"
    return "on time" if entry.done_at <= entry.due_at else f"late by {_since(entry.due_at, entry.done_at)}"


def review_data(incident: Incident, timeline: list[TimelineEntry]) -> dict[str, Any]:
    ack = first(timeline, "acknowledged")
    done = [e for e in incident.checklist if e.done_at is not None]
    on_time = [e for e in done if e.done_at is not None and e.done_at <= e.due_at]
    return {
        "incident": incident.id,
        "title": incident.title,
        "rule": incident.rule_id,
        "group": incident.group,
        "playbook": incident.playbook,
        "severity": incident.severity,
        "status": incident.status.value,
        "opened_at": incident.opened_at.isoformat(),
        "acknowledged_at": ack.at.isoformat() if ack else None,
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "time_to_acknowledge": _since(incident.opened_at, ack.at if ack else None),
        "time_to_resolve": _since(incident.opened_at, incident.resolved_at),
        "evidence": [e.describe() for e in incident.evidence],
        "checklist": {
            "items": len(incident.checklist),
            "done": len(done),
            "on_time": len(on_time),
            "entries": [
                {
                    "item": e.item_id,
                    "text": e.text,
                    "owner": e.owner,
                    "due_at": e.due_at.isoformat(),
                    "done_at": e.done_at.isoformat() if e.done_at else None,
                    "done_by": e.done_by,
                    "outcome": item_outcome(e),
                }
                for e in incident.checklist
            ],
        },
        "statements": {
            kind: {"state": s.state, "version": s.version, "text": s.text, "approvals": dict(s.approvals)}
            for kind, s in fold(timeline).items()
        },
        "timeline": [
            {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "detail": dict(e.detail)} for e in timeline
        ],
    }


def review_markdown(incident: Incident, timeline: list[TimelineEntry], chart: str | None = None) -> str:
    data = review_data(incident, timeline)
    ack = first(timeline, "acknowledged")
    lines = [
        f"# Post-incident review: #{incident.id} {incident.title}",
        "",
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| rule | `{incident.rule_id}` {('(' + incident.group + ')') if incident.group else ''} |",
        f"| playbook | `{incident.playbook}` |",
        f"| severity | {label(incident.severity)} |",
        f"| status | {incident.status.value} |",
        f"| opened | {_t(incident.opened_at)} |",
        f"| acknowledged | {_t(ack.at if ack else None)} by {incident.acknowledged_by or '—'} "
        f"(after {data['time_to_acknowledge']}) |",
        f"| resolved | {_t(incident.resolved_at)} (after {data['time_to_resolve']}) |",
        f"| closed | {_t(incident.closed_at)} |",
        "",
        "## What the rule saw",
        "",
        *[f"- {e}" for e in data["evidence"]],
        *(["", f"![metric chart]({chart})"] if chart else []),
        "",
        "## Checklist against SLA",
        "",
        f"{data['checklist']['done']} of {data['checklist']['items']} items done, "
        f"{data['checklist']['on_time']} on time.",
        "",
        "| item | owner | due | done | outcome |",
        "|---|---|---|---|---|",
        *[
            f"| {e.text} / {e.text_en} | {e.owner} | {_t(e.due_at)} | "
            f"{_t(e.done_at)} {('by ' + e.done_by) if e.done_by else ''} "
            f"| {item_outcome(e)} |"
            for e in incident.checklist
        ],
        "",
        "## Timeline",
        "",
        "| time | who | what | detail |",
        "|---|---|---|---|",
        *[
            f"| {_t(e.at)} | {e.actor} | {e.kind} | {json.dumps(dict(e.detail), ensure_ascii=False)[:200]} |"
            for e in timeline
        ],
        "",
        "## Statements",
        "",
        *statement_lines(timeline),
        "",
        "## Lessons",
        "",
        "- What went well:",
        "- What went badly:",
        "- Where we were lucky:",
        "- Changes to rules, playbooks or the roster (with owners and dates):",
        "",
    ]
    return "\n".join(lines)


def metric_chart(store: Any, rule: Any, incident: Incident, cut: float, now: datetime, zone: str = "UTC") -> bytes:
    """PNG of the rule's metric for the incident's group, 6 h before it opened until it ended.

    Raises ``monitor.notify.charts.ChartsUnavailable`` when matplotlib is not installed.
    """
    from monitor.detect.backtest import spans
    from monitor.notify.charts import ChartSeries, render_png

    replayed, end = chart_replay(store, rule, incident, cut, now)
    series = ChartSeries(
        title=f"#{incident.id} {rule.id} {incident.group}".strip(),
        timestamps=replayed.times,
        values=replayed.values,
        baseline=replayed.baseline if any(b == b for b in replayed.baseline) else None,
        threshold=replayed.threshold,
        spans=spans(replayed, end),
        metric=replayed.metric,
    )
    from zoneinfo import ZoneInfo

    return render_png(series, zone=ZoneInfo(zone))


def chart_replay(store: Any, rule: Rule, incident: Incident, cut: float, now: datetime) -> tuple[RuleReplay, datetime]:
    """The rule replayed over the incident's group, 6 h before it opened until it ended (and that
    end), for its chart: from the rule's stored hits of that group when they reach back over the
    replay's lookback (the daemon's), else from the stored items."""
    from monitor.detect.backtest import matched_hits, replay_hits
    from monitor.detect.hits import HitBook, fingerprint

    start = incident.opened_at - timedelta(hours=6)
    end = incident.resolved_at or incident.closed_at or now
    since = start - rule.lookback()
    built = store.hits_built(rule.id)
    if built is not None and built[0] == fingerprint(rule) and built[1] <= since.timestamp():
        hits = HitBook(store, lambda: [rule]).hits_between(rule, since, end, [incident.group])
    else:
        matched = matched_hits(rule, store.items_between(rule.sources or None, since, end))
        hits = [h for h in matched if h.group == incident.group]
    replayed = replay_hits(
        rule,
        hits,
        start,
        end,
        step_every=rule.bucket,
        default_cut=cut,
        chart_group=incident.group,
        history_since=store.earliest_item(rule.sources or None),
    )
    return replayed, end
