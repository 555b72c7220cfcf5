"""Turn signals into incidents: open, update, suggest resolution; queue their messages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from monitor.config.playbooks import Playbook
from monitor.config.rules import Rule
from monitor.incidents import core
from monitor.incidents.announce import Announcer, OutboxWriter
from monitor.models import (
    ChecklistEntry,
    Evidence,
    Incident,
    Signal,
    SignalState,
    TopItem,
)
from monitor.notify.i18n import ENGLISH, Lang, describe_evidence
from monitor.notify.render import Renderer
from monitor.store import DuplicateIncident

if TYPE_CHECKING:
    from monitor.detect.evidence import Summary

log = logging.getLogger(__name__)


class IncidentStore(OutboxWriter, Protocol):
    """What the incident service reads and writes, and what the announcer needs (:class:`OutboxWriter`)."""

    def active_incident(self, rule_id: str, group: str) -> Incident | None: ...

    def active_incidents_for_group(self, group: str) -> list[Incident]: ...

    def add_checklist_items(self, incident_id: int, entries: Sequence[ChecklistEntry]) -> None: ...

    def add_timeline(
        self, incident_id: int, at: datetime, actor: str, kind: str, detail: Mapping[str, Any]
    ) -> None: ...

    def incident(self, incident_id: int) -> Incident: ...

    def incidents_live_since(self, group: str, since: datetime) -> list[Incident]: ...

    def latest_incident(self, rule_id: str, group: str) -> Incident | None: ...

    def open_incident(
        self,
        *,
        rule_id: str,
        group: str,
        playbook: str,
        title: str,
        severity: str,
        at: datetime,
        evidence: Sequence[Evidence],
        top_items: Sequence[TopItem],
        checklist: Sequence[ChecklistEntry],
        summary: Summary | None = None,
    ) -> Incident: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def update_signal(
        self,
        incident_id: int,
        *,
        at: datetime,
        severity: str,
        evidence: Sequence[Evidence],
        top_items: Sequence[TopItem],
        summary: Summary | None = None,
    ) -> None: ...


SYSTEM = "crisismon"
NO_GROUP = core.NO_GROUP
BUCKET = timedelta(minutes=5)
ChartMaker = Callable[[Rule, Incident, datetime], bytes | None]


class IncidentService:
    """At most one active incident per (rule, group); every change queued to every destination."""

    def __init__(
        self,
        store: IncidentStore,
        playbooks: Mapping[str, Playbook],
        renderers: Mapping[str, Renderer],
        chart: ChartMaker | None = None,
        opened: Callable[[Rule, Incident, datetime], None] | None = None,
        lang: Lang = ENGLISH,
    ) -> None:
        """``chart(rule, incident, now)`` draws the PNG posted with an alert (None: no charts).
        ``opened(rule, incident, now)`` is told of each new incident (metrics); ``lang``: the
        language of what it says in the thread."""
        self.lang = lang
        self.store = store
        self.playbooks = playbooks
        self.renderers = renderers
        self.chart = chart
        self.opened = opened
        self.announce = Announcer(store, renderers, playbooks)

    def handle(self, signal: Signal, rule: Rule, now: datetime) -> Incident | None:
        """Load what the core needs, let it decide (``monitor.incidents.core``), apply the decision."""
        decision = core.decide(signal, rule, self.history(signal, rule, now), now)
        incident = decision.incident
        if decision.kind == "open":
            return self.open(signal, rule, now)
        if incident is None:
            return None
        if decision.kind == "update":
            return self.update(incident, signal, now, every=rule.bucket)
        if decision.kind == "attach":
            return self.attach(incident, signal, rule, now)
        if decision.kind == "fired_again":
            return self.fired_again(incident, signal, now)
        self.suggest_resolution(incident, rule, now)
        return incident

    def history(self, signal: Signal, rule: Rule, now: datetime) -> core.History:
        """The incidents a signal's decision reads; bounded by the rule's realert window."""
        active = self.store.active_incident(rule.id, signal.group)
        if signal.state != SignalState.FIRING or active is not None:
            return core.History(active=active)
        related = [i for g in core.related_groups(signal.group) for i in self.store.active_incidents_for_group(g)]
        return core.History(
            active=None,
            related=related,
            latest=self.store.latest_incident(rule.id, signal.group),
            episode_handled=self._episode_handled(signal, core.handled_cutoff(rule, now)),
        )

    def attach(self, incident: Incident, signal: Signal, rule: Rule, now: datetime) -> Incident:
        """Record a related rule's signal on an open incident instead of opening another."""
        attached = any(
            e.kind == "related_signal" and e.detail.get("rule") == rule.id for e in self.store.timeline(incident.id)
        )
        raised = core.raises(signal, incident)
        if attached and not raised:
            return incident
        evidence = self._evidence(signal)
        with self.store.transaction():
            self.store.add_timeline(
                incident.id,
                now,
                SYSTEM,
                "related_signal",
                {"rule": rule.id, "severity": signal.severity, "evidence": [e.describe() for e in signal.evidence]},
            )
            text = self.lang.t("svc.related", rule=rule.id, description=rule.description, evidence=evidence)
            if raised:
                self._raise(incident, signal.severity, now)
                text += self.lang.t("svc.raised_too", severity=self.lang.severity(signal.severity))
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

    def fired_again(self, incident: Incident, signal: Signal, now: datetime) -> Incident:
        """Note a new firing episode on the recently resolved incident (once per episode)."""
        since = signal.since.isoformat() if signal.since else None
        if any(e.kind == "fired_again" and e.detail.get("since") == since for e in self.store.timeline(incident.id)):
            return incident
        evidence = "; ".join(e.describe() for e in signal.evidence)
        with self.store.transaction():
            self.store.add_timeline(incident.id, now, SYSTEM, "fired_again", {"since": since, "evidence": evidence})
            said = self.lang.t("svc.fired_again", evidence=self._evidence(signal))
            self._notify(incident, said, now, edit_top=False)
        return incident

    def _episode_handled(self, signal: Signal, cutoff: datetime) -> bool:
        """A person ended an incident of this firing episode (or the rule joined one), looking
        back only as far as ``cutoff`` (the realert window, exclusive as in ``incident_core.recently_ended``):
        the cost does not grow with history."""
        if signal.since is None:
            return False
        since = signal.since
        return any(
            (i.rule_id == signal.rule_id and i.opened_at >= since) or self._joined_since(i, signal.rule_id, since)
            for i in self.store.incidents_live_since(signal.group, max(since, cutoff))
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
            self.announce.opened(incident, rule.description, playbook, now)
        log.warning("incident %d opened: %s [%s]", incident.id, title, signal.severity)
        self._queue_chart(incident, rule, now)
        return incident

    def _queue_chart(self, incident: Incident, rule: Rule, now: datetime) -> None:
        """A chart of the rule's metric in the alert's thread, where the destination shows images."""
        if self.chart is None or not self.announce.shows_images():
            return
        try:
            png = self.chart(rule, incident, now)
        except Exception:  # a chart is a nice-to-have: never let it stop an alert
            log.exception("chart for incident %d failed", incident.id)
            return
        if png is None:
            return
        with self.store.transaction():
            self.announce.chart(incident, png, now)

    def update(self, incident: Incident, signal: Signal, now: datetime, *, every: timedelta = BUCKET) -> Incident:
        """Record the latest signal; raise the severity when it grew. A changed signal is written
        to the timeline at most once per ``every`` (the rule's bucket), so a busy crisis cannot
        flood it."""
        raised = core.raises(signal, incident)
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
                text = self.lang.t("svc.raised", severity=self.lang.severity(severity), evidence=self._evidence(signal))
                if added:
                    text += self.lang.t("svc.items_added", n=len(added), items=", ".join(added))
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
        more = self.lang.t("svc.more", n=len(new) - 1) if len(new) > 1 else ""
        text = self.lang.t("svc.new_item", source=first.source, excerpt=excerpt, more=more)
        self._notify(self.store.incident(incident.id), text, now, edit_top=True)

    def suggest_resolution(self, incident: Incident, rule: Rule, now: datetime) -> None:
        with self.store.transaction():
            self.store.add_timeline(incident.id, now, SYSTEM, "signal_resolved", {"rule": rule.id})
            self._notify(incident, self.lang.t("svc.not_firing"), now, edit_top=False)

    def _evidence(self, signal: Signal) -> str:
        """What crossed what, in the team's language (the timeline keeps the English)."""
        return "; ".join(describe_evidence(e, self.lang) for e in signal.evidence)

    def _notify(
        self, incident: Incident, text: str, now: datetime, *, edit_top: bool, edit_checklist: bool = False
    ) -> None:
        self.announce.update(incident, text, now, edit_top=edit_top, edit_checklist=edit_checklist)


def item_key(item: TopItem) -> str:
    """Identifies an evidence item across evaluations."""
    return f"{item.source}|{item.published_at.isoformat()}|{item.text[:60]}"


def item_keys(items: Sequence[TopItem]) -> list[str]:
    return [item_key(t) for t in items]
