"""SLA timers: escalate unacknowledged incidents, remind owners of overdue items.

Runs as a scheduler job. All its memory is the incident timeline (``escalated`` and
``reminder`` entries), so a restart neither forgets nor repeats a reminder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from monitor.config.playbooks import Playbook
from monitor.config.roster import Roster
from monitor.incidents.announce import Announcer, OutboxWriter
from monitor.incidents.escalation import EscalationPolicy, Steps
from monitor.incidents.service import SYSTEM
from monitor.models import Incident, IncidentStatus, TimelineEntry
from monitor.notify.i18n import ENGLISH, Lang
from monitor.notify.render import Renderer


class SlaStore(OutboxWriter, Protocol):
    """What the SLA watch reads and writes, and what the announcer needs (:class:`OutboxWriter`)."""

    def add_timeline(
        self, incident_id: int, at: datetime, actor: str, kind: str, detail: Mapping[str, Any]
    ) -> None: ...

    def incidents(self, *, active_only: bool = False) -> list[Incident]: ...

    def transaction(self) -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class SlaPolicy:
    ack_timeout: timedelta = timedelta(minutes=15)
    reminder_every: timedelta = timedelta(minutes=30)
    escalation: EscalationPolicy | None = None  # per severity (monitor.incidents.escalation); None: ack_timeout for all

    def steps(self, severity: str, roster_chain: tuple[str, ...]) -> Steps:
        if self.escalation is None:
            return Steps(self.ack_timeout, roster_chain)
        return self.escalation.steps(severity, roster_chain)


#: ``escalated(incident, level, role, text, roster, now)`` queues a step's DM and page.
EscalationHook = Callable[[Incident, int, str, str, Roster, datetime], int]


class SlaWatch:
    def __init__(
        self,
        store: SlaStore,
        renderers: Mapping[str, Renderer],
        playbooks: Mapping[str, Playbook],
        roster: Roster | Callable[[], Roster],
        policy: SlaPolicy,
        escalated: EscalationHook | None = None,
    ) -> None:
        self.store = store
        self.renderers = renderers
        self.playbooks = playbooks
        self._roster = roster  # a callable: the current view's (monitor.config.current)
        self.policy = policy
        self.announce = Announcer(store, renderers, playbooks)
        self.escalated = escalated
        self.lang: Lang = ENGLISH  # the team's language and time zone (set by monitor.app)

    @property
    def roster(self) -> Roster:
        return self._roster() if callable(self._roster) else self._roster

    def run(self, now: datetime) -> int:
        """Check every active incident; return how many messages were queued."""
        queued = 0
        for incident in self.store.incidents(active_only=True):
            timeline = self.store.timeline(incident.id)
            if muted(timeline, now):
                continue
            queued += self._escalate(incident, timeline, now)
            queued += self._remind_overdue(incident, timeline, now)
        return queued

    def _escalate(self, incident: Incident, timeline: list[TimelineEntry], now: datetime) -> int:
        if incident.status != IncidentStatus.OPEN:
            return 0
        waited = now - incident.opened_at
        steps = self.policy.steps(incident.severity, self.roster.escalation)
        if waited < steps.timeout:
            return 0
        chain = steps.chain
        level = min(int(waited / steps.timeout), len(chain))
        escalations = [e for e in timeline if e.kind == "escalated"]
        last_level = int(escalations[-1].detail["level"]) if escalations else 0
        if level <= last_level and escalations and now - escalations[-1].at < self.policy.reminder_every:
            return 0
        role = chain[level - 1] if chain else "crisis_lead"
        minutes = int(waited.total_seconds() // 60)
        repeat = level <= last_level
        key = "sla.remind" if repeat else "sla.escalate"
        text = self.lang.t(key, minutes=minutes, who=self._who(role))
        with self.store.transaction():
            self.store.add_timeline(
                incident.id, now, SYSTEM, "escalated", {"level": level, "role": role, "repeat": repeat}
            )
            self._notify(incident, text, now, roles=[role])
            if not repeat and self.escalated is not None:
                self.escalated(incident, level, role, text, self.roster, now)
        return 1

    def _remind_overdue(self, incident: Incident, timeline: list[TimelineEntry], now: datetime) -> int:
        overdue = [e for e in incident.checklist if e.done_at is None and e.due_at < now]
        if not overdue:
            return 0
        reminders = [e for e in timeline if e.kind == "reminder"]
        already = set(reminders[-1].detail["items"]) if reminders else set()
        fresh = [e for e in overdue if e.item_id not in already]
        if not fresh and reminders and now - reminders[-1].at < self.policy.reminder_every:
            return 0
        lines = [self.lang.t("sla.overdue", n=len(overdue))]
        lines += [
            self.lang.t("sla.item", text=self.lang.pick(e.text, e.text_en), who=self._who(e.owner))
            + self.lang.t("sla.due", time=self.lang.clock(e.due_at))
            for e in overdue
        ]
        roles = sorted({e.owner for e in overdue})
        with self.store.transaction():
            self.store.add_timeline(incident.id, now, SYSTEM, "reminder", {"items": [e.item_id for e in overdue]})
            self._notify(incident, "\n".join(lines), now, roles=roles, edit_checklist=True)
        return 1

    def _who(self, role: str) -> str:
        """``危机负责人 (王芳)`` in zh-CN, ``crisis_lead (王芳)`` in English; the role alone when nobody holds it."""
        person = self.roster.person_for(role)
        called = self.lang.role(role)
        return called if person is None else f"{called} ({person.name})"

    def _notify(
        self, incident: Incident, text: str, now: datetime, *, roles: list[str], edit_checklist: bool = False
    ) -> None:
        """A thread message mentioning ``roles`` (the checklist message edited too, if asked)."""
        self.announce.update(incident, text, now, edit_top=False, notify_roles=roles, edit_checklist=edit_checklist)


def muted(timeline: list[TimelineEntry], now: datetime) -> bool:
    mutes = [e for e in timeline if e.kind == "muted"]
    return bool(mutes) and datetime.fromisoformat(str(mutes[-1].detail["until"])) > now
