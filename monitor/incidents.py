"""Turn signals into incidents: open, update, suggest resolution; queue their messages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta

from monitor.models import Incident, Signal, SignalState, TopItem
from monitor.notify.render import Renderer
from monitor.playbooks import Playbook
from monitor.rules import Immediate, Rule, leaves
from monitor.severity import label, rank
from monitor.store import DuplicateIncident, SqlStore

log = logging.getLogger(__name__)

SYSTEM = "crisismon"
NO_GROUP = ""
BUCKET = timedelta(minutes=5)
ChartMaker = Callable[[Rule, Incident, datetime], bytes | None]


class IncidentService:
    """At most one active incident per (rule, group); every change queued to every destination."""

    def __init__(
        self,
        store: SqlStore,
        playbooks: Mapping[str, Playbook],
        renderers: Mapping[str, Renderer],
        chart: ChartMaker | None = None,
        opened: Callable[[Rule, Incident, datetime], None] | None = None,
    ) -> None:
        """``chart(rule, incident, now)`` draws the PNG posted with an alert (None: no charts).
        ``opened(rule, incident, now)`` is told of each new incident (metrics)."""
        self.store = store
        self.playbooks = playbooks
        self.renderers = renderers
        self.chart = chart
        self.opened = opened

    def handle(self, signal: Signal, rule: Rule, now: datetime) -> Incident | None:
        if signal.state == SignalState.FIRING:
            active = self.store.active_incident(rule.id, signal.group)
            if active is not None:
                return self.update(active, signal, now, every=rule.bucket)
            if self._episode_handled(signal) and not self._new_report_after_resolution(signal, rule):
                return None  # a person resolved this episode's incident while the rule still fires
            related = self._related_incident(signal, rule)
            if related is not None:
                return self.attach(related, signal, rule, now)
            recent = self._recently_resolved(signal, rule, now)
            if recent is not None and not self._new_report_after_resolution(signal, rule):
                return self.fired_again(recent, signal, now)
            return self.open(signal, rule, now)
        if signal.state == SignalState.RESOLVED and signal.transitioned:
            active = self.store.active_incident(rule.id, signal.group)
            if active is not None:
                self.suggest_resolution(active, rule, now)
            return active
        return None

    def _related_incident(self, signal: Signal, rule: Rule) -> Incident | None:
        """An active incident of the same group from a related rule (or one with the same playbook);
        else one with no group (brand-wide, e.g. opened by reports naming no product)."""
        groups = [signal.group, NO_GROUP] if signal.group else [signal.group]
        for group in groups:
            for incident in self.store.active_incidents_for_group(group):
                if incident.rule_id in rule.related or incident.playbook == rule.playbook:
                    return incident
        return None

    def attach(self, incident: Incident, signal: Signal, rule: Rule, now: datetime) -> Incident:
        """Record a related rule's signal on an open incident instead of opening another."""
        attached = any(
            e.kind == "related_signal" and e.detail.get("rule") == rule.id for e in self.store.timeline(incident.id)
        )
        raised = rank(signal.severity) > rank(incident.severity)
        if attached and not raised:
            return incident
        evidence = "; ".join(e.describe() for e in signal.evidence)
        with self.store.transaction():
            self.store.add_timeline(
                incident.id,
                now,
                SYSTEM,
                "related_signal",
                {"rule": rule.id, "severity": signal.severity, "evidence": [e.describe() for e in signal.evidence]},
            )
            text = f"related rule {rule.id} ({rule.description}) fires too: {evidence}"
            if raised:
                self._raise(incident, signal.severity, now)
                text += f"; severity raised to {label(signal.severity)}"
            self._notify(self.store.incident(incident.id), text, now, edit_top=raised)
        return self.store.incident(incident.id)

    def _raise(self, incident: Incident, severity: str, now: datetime) -> list[str]:
        """Record a higher severity and add the playbook items that apply from it; their ids."""
        self.store.update_signal(
            incident.id, at=now, severity=severity, evidence=incident.evidence, top_items=incident.top_items
        )
        playbook = self.playbooks.get(incident.playbook)
        if playbook is None:
            return []
        have = {e.item_id for e in incident.checklist}
        new = [e for e in playbook.checklist(now, severity) if e.item_id not in have]
        self.store.add_checklist_items(incident.id, new)
        return [e.item_id for e in new]

    def _recently_resolved(self, signal: Signal, rule: Rule, now: datetime) -> Incident | None:
        latest = self.store.latest_incident(rule.id, signal.group)
        ended = latest and (latest.resolved_at or latest.closed_at)
        if latest is None or not ended or now - ended >= rule.realert:
            return None
        return latest

    def fired_again(self, incident: Incident, signal: Signal, now: datetime) -> Incident:
        """Note a new firing episode on the recently resolved incident (once per episode)."""
        since = signal.since.isoformat() if signal.since else None
        if any(e.kind == "fired_again" and e.detail.get("since") == since for e in self.store.timeline(incident.id)):
            return incident
        evidence = "; ".join(e.describe() for e in signal.evidence)
        with self.store.transaction():
            self.store.add_timeline(incident.id, now, SYSTEM, "fired_again", {"since": since, "evidence": evidence})
            self._notify(
                incident,
                f"the rule fires again soon after resolution (within realert): {evidence}",
                now,
                edit_top=False,
            )
        return incident

    def _new_report_after_resolution(self, signal: Signal, rule: Rule) -> bool:
        """An immediate rule's new report, published after its incident was resolved, is a new
        case (another person hurt): it opens a new incident rather than being swallowed."""
        if not any(isinstance(leaf, Immediate) for leaf in leaves(rule.condition)):
            return False
        latest = self.store.latest_incident(rule.id, signal.group)
        ended = None if latest is None else latest.resolved_at or latest.closed_at
        return ended is not None and any(t.published_at > ended for t in signal.top_items)

    def _episode_handled(self, signal: Signal) -> bool:
        if signal.since is None:
            return False
        since = signal.since
        return any(
            i.group == signal.group
            and (
                (i.rule_id == signal.rule_id and i.opened_at >= since)
                or self._joined_since(i, signal.rule_id, since)  # its signals joined that incident
            )
            for i in self.store.incidents()
        )

    def _joined_since(self, incident: Incident, rule_id: str, since: datetime) -> bool:
        return any(
            e.kind == "related_signal" and e.detail.get("rule") == rule_id and e.at >= since
            for e in self.store.timeline(incident.id)
        )

    def open(self, signal: Signal, rule: Rule, now: datetime) -> Incident:
        try:
            incident = self._open(signal, rule, now)
            if self.opened is not None:
                self.opened(rule, incident, now)
            return incident
        except DuplicateIncident:
            # Another daemon opened it first (its transaction committed between our check
            # and our insert; ours was rolled back): update the winner instead.
            active = self.store.active_incident(rule.id, signal.group)
            if active is None:
                raise
            log.info("incident for %s %s was opened by another daemon; updating it", rule.id, signal.group)
            return self.update(active, signal, now)

    def _open(self, signal: Signal, rule: Rule, now: datetime) -> Incident:
        playbook = self.playbooks[rule.playbook]
        title = rule.description if not signal.group else f"{rule.description} ({signal.group})"
        with self.store.transaction():
            incident = self.store.open_incident(
                rule_id=rule.id,
                group=signal.group,
                playbook=playbook.id,
                title=title,
                severity=signal.severity,
                at=now,
                evidence=signal.evidence,
                top_items=signal.top_items,
                checklist=playbook.checklist(now, signal.severity),
                summary=signal.summary,
            )
            self.store.add_timeline(
                incident.id,
                now,
                SYSTEM,
                "opened",
                {
                    "severity": signal.severity,
                    "evidence": [e.describe() for e in signal.evidence],
                    "items": item_keys(signal.top_items),
                },
            )
            for destination, renderer in self.renderers.items():
                alert = renderer.alert(
                    incident, rule_description=rule.description, playbook_title=playbook.title, now=now
                )
                alert_id = self.store.enqueue(destination, "alert", alert, now=now, incident_id=incident.id)
                checklist = renderer.checklist(incident, playbook_title=playbook.title, now=now)
                self.store.enqueue(
                    destination, "checklist", checklist, now=now, incident_id=incident.id, thread_of=alert_id
                )
        log.warning("incident %d opened: %s [%s]", incident.id, title, signal.severity)
        self._queue_chart(incident, rule, now)
        return incident

    def _queue_chart(self, incident: Incident, rule: Rule, now: datetime) -> None:
        """A chart of the rule's metric in the alert's thread, where the destination shows images."""
        if self.chart is None:
            return
        wanted = {d: r for d, r in self.renderers.items() if getattr(r, "shows_images", False)}
        if not wanted:
            return
        try:
            png = self.chart(rule, incident, now)
        except Exception:  # a chart is a nice-to-have: never let it stop an alert
            log.exception("chart for incident %d failed", incident.id)
            return
        if png is None:
            return
        with self.store.transaction():
            for destination, renderer in wanted.items():
                alert_id = self.store.first_message(incident.id, destination, "alert")
                payload = renderer.chart(incident, png)
                self.store.enqueue(destination, "chart", payload, now=now, incident_id=incident.id, thread_of=alert_id)

    def update(self, incident: Incident, signal: Signal, now: datetime, *, every: timedelta = BUCKET) -> Incident:
        """Record the latest signal; raise the severity when it grew. A changed signal is written
        to the timeline at most once per ``every`` (the rule's bucket), so a busy crisis cannot
        flood it."""
        raised = rank(signal.severity) > rank(incident.severity)
        severity = signal.severity if raised else incident.severity
        with self.store.transaction():
            self.store.update_signal(
                incident.id,
                at=now,
                severity=severity,
                evidence=signal.evidence,
                top_items=signal.top_items,
                summary=signal.summary,
            )
            described = [e.describe() for e in signal.evidence]
            if not raised and described != [e.describe() for e in incident.evidence]:
                last = next(
                    (e.at for e in reversed(self.store.timeline(incident.id)) if e.kind in ("signal", "opened")), None
                )
                if last is None or now - last >= every:
                    self.store.add_timeline(incident.id, now, SYSTEM, "signal", {"evidence": described})
            if raised:
                added = self._raise(self.store.incident(incident.id), severity, now)
                self.store.add_timeline(
                    incident.id,
                    now,
                    SYSTEM,
                    "severity_raised",
                    {
                        "from": incident.severity,
                        "to": severity,
                        "evidence": [asdict(e) for e in signal.evidence],
                        "items_added": added,
                    },
                )
                updated = self.store.incident(incident.id)
                evidence = "; ".join(e.describe() for e in signal.evidence)
                text = f"severity raised to {label(severity)}: {evidence}"
                if added:
                    text += f"; {len(added)} checklist item(s) now apply: {', '.join(added)}"
                self._notify(updated, text, now, edit_top=True, edit_checklist=bool(added))
            else:
                self._announce_new_items(incident, signal, now, every)
        return self.store.incident(incident.id)

    def _announce_new_items(self, incident: Incident, signal: Signal, now: datetime, every: timedelta) -> None:
        """A new matching item joins the open incident: re-render the alert with it and say so in
        the thread, at most once per ``every`` (later items are announced together)."""
        last = next((e for e in reversed(self.store.timeline(incident.id)) if e.kind in ("opened", "new_items")), None)
        if last is None or now - last.at < every:
            return
        seen = set(last.detail.get("items") or ())
        new = [t for t in signal.top_items if item_key(t) not in seen]
        if not new:
            return
        keys = list(dict.fromkeys([*seen, *item_keys(signal.top_items)]))[-200:]
        self.store.add_timeline(incident.id, now, SYSTEM, "new_items", {"count": len(new), "items": keys})
        first = new[0]
        excerpt = " ".join((first.title or first.text).split())[:120]
        more = f" and {len(new) - 1} more" if len(new) > 1 else ""
        text = f"new matching item from {first.source}: {excerpt}{more}"
        self._notify(self.store.incident(incident.id), text, now, edit_top=True)

    def suggest_resolution(self, incident: Incident, rule: Rule, now: datetime) -> None:
        with self.store.transaction():
            self.store.add_timeline(incident.id, now, SYSTEM, "signal_resolved", {"rule": rule.id})
            self._notify(
                incident,
                "the rule is no longer firing; resolve the incident once the checklist is handled",
                now,
                edit_top=False,
            )

    def _notify(
        self, incident: Incident, text: str, now: datetime, *, edit_top: bool, edit_checklist: bool = False
    ) -> None:
        notify(
            self.store,
            self.renderers,
            self.playbooks,
            incident,
            text,
            now,
            edit_top=edit_top,
            edit_checklist=edit_checklist,
        )


def item_key(item: TopItem) -> str:
    """Identifies an evidence item across evaluations."""
    return f"{item.source}|{item.published_at.isoformat()}|{item.text[:60]}"


def item_keys(items: Sequence[TopItem]) -> list[str]:
    return [item_key(t) for t in items]


def notify(
    store: SqlStore,
    renderers: Mapping[str, Renderer],
    playbooks: Mapping[str, Playbook],
    incident: Incident,
    text: str,
    now: datetime,
    *,
    edit_top: bool,
    notify_roles: Sequence[str] = (),
    edit_checklist: bool = False,
) -> None:
    """Post ``text`` in the incident's thread wherever its alert went; optionally edit the
    alert and the checklist message in place."""
    playbook = playbooks.get(incident.playbook)
    for destination, renderer in renderers.items():
        alert_id = store.first_message(incident.id, destination, "alert")
        if alert_id is None:
            continue
        store.enqueue(
            destination,
            "update",
            renderer.update(incident, text, notify=notify_roles),
            now=now,
            incident_id=incident.id,
            thread_of=alert_id,
        )
        if edit_top and playbook is not None:
            payload = renderer.alert(incident, rule_description=incident.title, playbook_title=playbook.title, now=now)
            store.enqueue(destination, "alert", payload, now=now, incident_id=incident.id, update_of=alert_id)
        checklist_id = store.first_message(incident.id, destination, "checklist")
        if edit_checklist and playbook is not None and checklist_id is not None:
            payload = renderer.checklist(incident, playbook_title=playbook.title, now=now)
            store.enqueue(destination, "checklist", payload, now=now, incident_id=incident.id, update_of=checklist_id)
