"""Turn signals into incidents: open, update, suggest resolution; queue their messages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
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
            if active is None:
                return self.open(signal, rule, now)
            return self.update(active, signal, now)
        if signal.state == SignalState.RESOLVED and signal.transitioned:
            active = self.store.active_incident(rule.id, signal.group)
            if active is not None:
                self.suggest_resolution(active, rule, now)
            return active
        return None

    def open(self, signal: Signal, rule: Rule, now: datetime) -> Incident:
        playbook = self.playbooks[rule.playbook]
        title = rule.description if not signal.group else f"{rule.description} ({signal.group})"
        with self.store.transaction():
            incident = self.store.open_incident(
                rule_id=rule.id, group=signal.group, playbook=playbook.id, title=title, severity=signal.severity,
                at=now, evidence=signal.evidence, top_items=signal.top_items,
                checklist=playbook.checklist(now, signal.severity),
            )
            self.store.add_timeline(
                incident.id, now, SYSTEM, "opened",
                {"severity": signal.severity, "evidence": [e.describe() for e in signal.evidence]},
            )
            for destination, renderer in self.renderers.items():
                alert = renderer.alert(incident, rule_description=rule.description, playbook_title=playbook.title, now=now)
                alert_id = self.store.enqueue(destination, "alert", alert, now=now, incident_id=incident.id)
                checklist = renderer.checklist(incident, playbook_title=playbook.title, now=now)
                self.store.enqueue(destination, "checklist", checklist, now=now, incident_id=incident.id, thread_of=alert_id)
        log.warning("incident %d opened: %s [%s]", incident.id, title, signal.severity)
        return incident

    def update(self, incident: Incident, signal: Signal, now: datetime) -> Incident:
        raised = rank(signal.severity) > rank(incident.severity)
        severity = signal.severity if raised else incident.severity
        with self.store.transaction():
            self.store.update_signal(incident.id, at=now, severity=severity, evidence=signal.evidence, top_items=signal.top_items)
            if raised:
                self.store.add_timeline(
                    incident.id, now, SYSTEM, "severity_raised",
                    {"from": incident.severity, "to": severity, "evidence": [asdict(e) for e in signal.evidence]},
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
        playbook = self.playbooks.get(incident.playbook)
        for destination, renderer in self.renderers.items():
            alert_id = self.store.first_message(incident.id, destination, "alert")
            self.store.enqueue(
                destination, "update", renderer.update(incident, text), now=now, incident_id=incident.id,
                thread_of=alert_id,
            )
            if edit_top and alert_id is not None and playbook is not None:
                rule_description = incident.title
                payload = renderer.alert(incident, rule_description=rule_description, playbook_title=playbook.title, now=now)
                self.store.enqueue(destination, "alert", payload, now=now, incident_id=incident.id, update_of=alert_id)
