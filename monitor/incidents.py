"""Turn signals into incidents: open, update, suggest resolution; queue their messages."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime

from monitor.models import Incident, Signal, SignalState
from monitor.notify.render import Renderer
from monitor.playbooks import Playbook
from monitor.rules import Rule
from monitor.severity import label, rank
from monitor.store import SqlStore

log = logging.getLogger(__name__)

SYSTEM = "crisismon"


class IncidentService:
    """At most one active incident per (rule, group); every change queued to every destination."""

    def __init__(self, store: SqlStore, playbooks: Mapping[str, Playbook], renderers: Mapping[str, Renderer]) -> None:
        self.store = store
        self.playbooks = playbooks
        self.renderers = renderers

    def handle(self, signal: Signal, rule: Rule, now: datetime) -> Incident | None:
        if signal.state == SignalState.FIRING:
            active = self.store.active_incident(rule.id, signal.group)
            if active is not None:
                return self.update(active, signal, now)
            if self._episode_handled(signal):
                return None  # a person resolved this episode's incident while the rule still fires
            return self.open(signal, rule, now)
        if signal.state == SignalState.RESOLVED and signal.transitioned:
            active = self.store.active_incident(rule.id, signal.group)
            if active is not None:
                self.suggest_resolution(active, rule, now)
            return active
        return None

    def _episode_handled(self, signal: Signal) -> bool:
        if signal.since is None:
            return False
        return any(
            i.rule_id == signal.rule_id and i.group == signal.group and i.opened_at >= signal.since
            for i in self.store.incidents()
        )

    def open(self, signal: Signal, rule: Rule, now: datetime) -> Incident:
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
            )
            self.store.add_timeline(
                incident.id,
                now,
                SYSTEM,
                "opened",
                {"severity": signal.severity, "evidence": [e.describe() for e in signal.evidence]},
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
        return incident

    def update(self, incident: Incident, signal: Signal, now: datetime) -> Incident:
        raised = rank(signal.severity) > rank(incident.severity)
        severity = signal.severity if raised else incident.severity
        with self.store.transaction():
            self.store.update_signal(
                incident.id, at=now, severity=severity, evidence=signal.evidence, top_items=signal.top_items
            )
            if raised:
                self.store.add_timeline(
                    incident.id,
                    now,
                    SYSTEM,
                    "severity_raised",
                    {
                        "from": incident.severity,
                        "to": severity,
                        "evidence": [asdict(e) for e in signal.evidence],
                    },
                )
                updated = self.store.incident(incident.id)
                evidence = "; ".join(e.describe() for e in signal.evidence)
                self._notify(updated, f"severity raised to {label(severity)}: {evidence}", now, edit_top=True)
        return self.store.incident(incident.id)

    def suggest_resolution(self, incident: Incident, rule: Rule, now: datetime) -> None:
        with self.store.transaction():
            self.store.add_timeline(incident.id, now, SYSTEM, "signal_resolved", {"rule": rule.id})
            self._notify(
                incident,
                "the rule is no longer firing; resolve the incident once the checklist is handled",
                now,
                edit_top=False,
            )

    def _notify(self, incident: Incident, text: str, now: datetime, *, edit_top: bool) -> None:
        notify(self.store, self.renderers, self.playbooks, incident, text, now, edit_top=edit_top)


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
