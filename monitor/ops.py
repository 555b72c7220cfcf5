"""What people do to an incident: acknowledge, tick, note, resolve, close.

Every operation checks the lifecycle (open -> acknowledged -> stable -> resolved -> closed),
records who and when in the timeline, and posts to the incident's thread. The CLI, the HTTP
API and Slack's buttons all call these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.errors import InvalidOperation
from monitor.incidents import notify
from monitor.models import ChecklistEntry, Incident, IncidentStatus
from monitor.notify.i18n import ENGLISH, Lang
from monitor.notify.render import Renderer
from monitor.playbooks import Playbook
from monitor.store import SqlStore

ACTIVE = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.STABLE)
MAX_UPDATE_CHARS = 3000  # a status update or note: one Slack section


@dataclass(frozen=True, slots=True)
class Assignments:
    """Who leads the incident and who owns which checklist item (roster names), from the timeline."""

    commander: str | None = None
    owners: Mapping[str, str] = field(default_factory=dict)


class IncidentOps:
    def __init__(
        self,
        store: SqlStore,
        renderers: Mapping[str, Renderer],
        playbooks: Mapping[str, Playbook],
        *,
        lang: Lang = ENGLISH,
    ) -> None:
        self.store = store
        self.renderers = renderers
        self.playbooks = playbooks
        self.lang = lang

    def acknowledge(self, incident_id: int, by: str, now: datetime) -> Incident:
        incident = self.store.incident(incident_id)
        if incident.status != IncidentStatus.OPEN:
            who = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
            raise InvalidOperation(
                f"incident {incident_id} is {incident.status.value}{who}; only an open incident can be acknowledged"
            )
        return self._transition(incident, IncidentStatus.ACKNOWLEDGED, by, now, self.lang.t("op.acknowledged", who=by))

    def mark_stable(self, incident_id: int, by: str, now: datetime) -> Incident:
        incident = self.store.incident(incident_id)
        if incident.status != IncidentStatus.ACKNOWLEDGED:
            raise InvalidOperation(
                f"incident {incident_id} is {incident.status.value}; acknowledge it before marking it stable"
            )
        return self._transition(incident, IncidentStatus.STABLE, by, now, self.lang.t("op.stable", who=by))

    def resolve(self, incident_id: int, by: str, now: datetime) -> Incident:
        incident = self.store.incident(incident_id)
        if incident.status not in ACTIVE:
            raise InvalidOperation(f"incident {incident_id} is already {incident.status.value}")
        return self._transition(incident, IncidentStatus.RESOLVED, by, now, self.lang.t("op.resolved", who=by))

    def close(self, incident_id: int, by: str, now: datetime, *, force: bool = False) -> Incident:
        incident = self.store.incident(incident_id)
        if incident.status == IncidentStatus.CLOSED:
            raise InvalidOperation(f"incident {incident_id} is already closed")
        if incident.status == IncidentStatus.OPEN and not force:
            raise InvalidOperation(
                f"incident {incident_id} was never acknowledged; acknowledge and resolve it first, or pass --force"
            )
        if incident.status != IncidentStatus.RESOLVED and not force:
            raise InvalidOperation(
                f"incident {incident_id} is {incident.status.value}; resolve it first, or pass --force"
            )
        return self._transition(
            incident, IncidentStatus.CLOSED, by, now, self.lang.t("op.closed_forced" if force else "op.closed", who=by)
        )

    def tick(self, incident_id: int, item_id: str, by: str, now: datetime, *, done: bool = True) -> Incident:
        incident = self._active(incident_id)
        entry = self._item(incident, item_id)
        if done and entry.done_at is not None:
            raise InvalidOperation(f"item {item_id!r} was already ticked by {entry.done_by}")
        if not done and entry.done_at is None:
            raise InvalidOperation(f"item {item_id!r} is not ticked")
        with self.store.transaction():
            self.store.set_item_done(incident_id, item_id, at=now if done else None, by=by if done else None)
            self.store.add_timeline(
                incident_id, now, by, "ticked" if done else "unticked", {"item": item_id, "text": entry.text}
            )
            updated = self.store.incident(incident_id)
            mark = "☑" if done else "☐"
            late = self.lang.t("op.late") if done and now > entry.due_at else ""
            notify(
                self.store,
                self.renderers,
                self.playbooks,
                updated,
                f"{mark} {entry.text} / {entry.text_en} — {by}{late}",
                now,
                edit_top=False,
                edit_checklist=True,
            )
        return updated

    def note(self, incident_id: int, text: str, by: str, now: datetime) -> Incident:
        incident = self.store.incident(incident_id)
        if not text.strip():
            raise InvalidOperation("a note needs some text")
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "note", {"text": text})
            notify(
                self.store,
                self.renderers,
                self.playbooks,
                incident,
                self.lang.t("op.note", who=by, text=text),
                now,
                edit_top=False,
            )
        return incident

    def mute(self, incident_id: int, hours: int, by: str, now: datetime) -> Incident:
        """Silence reminders and escalations for ``hours`` (signals still update the incident)."""
        incident = self._active(incident_id)
        until = now + timedelta(hours=hours)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "muted", {"until": until.isoformat(), "hours": hours})
            notify(
                self.store,
                self.renderers,
                self.playbooks,
                incident,
                self.lang.t("op.muted", h=hours, who=by, until=self.lang.clock(until)),
                now,
                edit_top=False,
            )
        return incident

    def status_update(self, incident_id: int, text: str, by: str, now: datetime) -> Incident:
        """A status update for everyone following: posted to the thread and kept in the timeline."""
        incident = self.store.incident(incident_id)
        if not text.strip():
            raise InvalidOperation("a status update needs some text")
        if len(text) > MAX_UPDATE_CHARS:
            raise InvalidOperation(f"a status update has at most {MAX_UPDATE_CHARS} characters, found {len(text)}")
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "status_update", {"text": text})
            message = self.lang.t("op.status_update", who=by, text=text)
            notify(self.store, self.renderers, self.playbooks, incident, message, now, edit_top=False)
        return incident

    def assign_commander(self, incident_id: int, name: str, by: str, now: datetime) -> Incident:
        """Make ``name`` (a roster name) the incident commander."""
        incident = self._active(incident_id)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "commander", {"name": name})
            message = self.lang.t("op.commander", who=by, name=name)
            notify(self.store, self.renderers, self.playbooks, incident, message, now, edit_top=False)
        return incident

    def assign_owner(self, incident_id: int, item_id: str, name: str, by: str, now: datetime) -> Incident:
        """Make ``name`` (a roster name) the owner of one checklist item."""
        incident = self._active(incident_id)
        entry = self._item(incident, item_id)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "owner", {"item": item_id, "name": name})
            item = self.lang.pick(entry.text, entry.text_en)
            message = self.lang.t("op.owner", who=by, name=name, item=item)
            notify(self.store, self.renderers, self.playbooks, incident, message, now, edit_top=False)
        return incident

    def assignments(self, incident_id: int) -> Assignments:
        """The commander and item owners, the latest assignment winning."""
        commander: str | None = None
        owners: dict[str, str] = {}
        for entry in self.store.timeline(incident_id):
            if entry.kind == "commander":
                commander = str(entry.detail.get("name"))
            elif entry.kind == "owner":
                owners[str(entry.detail.get("item"))] = str(entry.detail.get("name"))
        return Assignments(commander, owners)

    def show_checklist(self, incident_id: int, by: str, now: datetime) -> Incident:
        """Post the current checklist again at the bottom of the thread."""
        incident = self.store.incident(incident_id)
        playbook = self.playbooks.get(incident.playbook)
        title = playbook.title if playbook else incident.playbook
        with self.store.transaction():
            for destination, renderer in self.renderers.items():
                alert_id = self.store.first_message(incident_id, destination, "alert")
                if alert_id is None:
                    continue
                payload = renderer.checklist(incident, playbook_title=title, now=now)
                self.store.enqueue(
                    destination, "checklist", payload, now=now, incident_id=incident_id, thread_of=alert_id
                )
            self.store.add_timeline(incident_id, now, by, "checklist_shown", {})
        return incident

    def _active(self, incident_id: int) -> Incident:
        incident = self.store.incident(incident_id)
        if incident.status not in ACTIVE:
            raise InvalidOperation(
                f"incident {incident_id} is {incident.status.value}; its checklist can no longer change"
            )
        return incident

    def _item(self, incident: Incident, item_id: str) -> ChecklistEntry:
        entry = next((e for e in incident.checklist if e.item_id == item_id), None)
        if entry is None:
            known = ", ".join(e.item_id for e in incident.checklist)
            raise InvalidOperation(f"incident {incident.id} has no checklist item {item_id!r}; its items: {known}")
        return entry

    def _transition(self, incident: Incident, status: IncidentStatus, by: str, now: datetime, text: str) -> Incident:
        with self.store.transaction():
            self.store.set_status(incident.id, status, now, by)
            self.store.add_timeline(incident.id, now, by, status.value, {"from": incident.status.value})
            updated = self.store.incident(incident.id)
            notify(self.store, self.renderers, self.playbooks, updated, text, now, edit_top=True)
        return updated
