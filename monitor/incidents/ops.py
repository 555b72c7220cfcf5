"""What people do to an incident: acknowledge, tick, note, resolve, close.

Every operation checks the lifecycle (open -> acknowledged -> stable -> resolved -> closed,
the table ``monitor.incidents.core.LIFECYCLE``),
records who and when in the timeline, and posts to the incident's thread. The CLI, the HTTP
API and Slack's buttons all call these.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from monitor.config.playbooks import Playbook
from monitor.errors import InvalidOperation
from monitor.incidents.announce import Announcer, OutboxWriter
from monitor.incidents.core import Action, Refusal, is_active, transition
from monitor.models import Assignments, ChecklistEntry, Incident, IncidentStatus, assignments_of
from monitor.notify.i18n import ENGLISH, Lang
from monitor.notify.render import Renderer

MAX_UPDATE_CHARS = 3000  # a status update or note: one Slack section


class OpsStore(OutboxWriter, Protocol):
    """What the operations people run read and write, and what the announcer needs (:class:`OutboxWriter`)."""

    def add_timeline(
        self, incident_id: int, at: datetime, actor: str, kind: str, detail: Mapping[str, Any]
    ) -> None: ...

    def incident(self, incident_id: int) -> Incident: ...

    def incidents(self, *, active_only: bool = False) -> list[Incident]: ...

    def set_item_done(self, incident_id: int, item_id: str, *, at: datetime | None, by: str | None) -> None: ...

    def set_status(self, incident_id: int, status: IncidentStatus, at: datetime, by: str | None = None) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...


class IncidentOps:
    def __init__(
        self,
        store: OpsStore,
        renderers: Mapping[str, Renderer],
        playbooks: Mapping[str, Playbook],
        *,
        lang: Lang = ENGLISH,
    ) -> None:
        self.store = store
        self.renderers = renderers
        self.playbooks = playbooks
        self.lang = lang
        self.announce = Announcer(store, renderers, playbooks)

    def acknowledge(self, incident_id: int, by: str, now: datetime) -> Incident:
        text = self.lang.t("op.acknowledged", who=by)
        return self._transition(self.store.incident(incident_id), "acknowledge", by, now, text)

    def mark_stable(self, incident_id: int, by: str, now: datetime) -> Incident:
        return self._transition(self.store.incident(incident_id), "stable", by, now, self.lang.t("op.stable", who=by))

    def resolve(self, incident_id: int, by: str, now: datetime) -> Incident:
        text = self.lang.t("op.resolved", who=by)
        return self._transition(self.store.incident(incident_id), "resolve", by, now, text)

    def close(self, incident_id: int, by: str, now: datetime, *, force: bool = False) -> Incident:
        incident = self.store.incident(incident_id)
        text = self.lang.t("op.closed_forced" if force else "op.closed", who=by)
        return self._transition(incident, "close_forced" if force else "close", by, now, text)

    def tick(self, incident_id: int, item_id: str, by: str, now: datetime, *, done: bool = True) -> Incident:
        incident = self._active(incident_id)
        entry = self._item(incident, item_id)
        if done and entry.done_at is not None:
            fields: dict[str, object] = {"item": item_id, "who": entry.done_by}
            raise Refusal(f"item {item_id!r} was already ticked by {entry.done_by}", "refuse.ticked", fields)
        if not done and entry.done_at is None:
            raise Refusal(f"item {item_id!r} is not ticked", "refuse.not_ticked", {"item": item_id})
        with self.store.transaction():
            self.store.set_item_done(incident_id, item_id, at=now if done else None, by=by if done else None)
            self.store.add_timeline(
                incident_id, now, by, "ticked" if done else "unticked", {"item": item_id, "text": entry.text}
            )
            updated = self.store.incident(incident_id)
            item = self.lang.pick(entry.text, entry.text_en)  # the locale's side, both when bilingual
            said = self.lang.t("op.ticked" if done else "op.unticked", item=item, who=by)
            late = self.lang.t("op.late") if done and now > entry.due_at else ""
            self.announce.update(updated, said + late, now, edit_top=False, edit_checklist=True)
        return updated

    def note(self, incident_id: int, text: str, by: str, now: datetime) -> Incident:
        incident = self.store.incident(incident_id)
        if not text.strip():
            raise InvalidOperation("a note needs some text")
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "note", {"text": text})
            self.announce.update(incident, self.lang.t("op.note", who=by, text=text), now, edit_top=False)
        return incident

    def mute(self, incident_id: int, hours: int, by: str, now: datetime) -> Incident:
        """Silence reminders and escalations for ``hours`` (signals still update the incident)."""
        incident = self._active(incident_id)
        until = now + timedelta(hours=hours)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "muted", {"until": until.isoformat(), "hours": hours})
            self.announce.update(
                incident, self.lang.t("op.muted", h=hours, who=by, until=self.lang.clock(until)), now, edit_top=False
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
            self.announce.update(incident, message, now, edit_top=False)
        return incident

    def assign_commander(self, incident_id: int, name: str, by: str, now: datetime) -> Incident:
        """Make ``name`` (a roster name) the incident commander."""
        incident = self._active(incident_id)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "commander", {"name": name})
            message = self.lang.t("op.commander", who=by, name=name)
            self.announce.update(incident, message, now, edit_top=False, edit_checklist=True)
        return incident

    def assign_owner(self, incident_id: int, item_id: str, name: str, by: str, now: datetime) -> Incident:
        """Make ``name`` (a roster name) the owner of one checklist item."""
        incident = self._active(incident_id)
        entry = self._item(incident, item_id)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "owner", {"item": item_id, "name": name})
            item = self.lang.pick(entry.text, entry.text_en)
            message = self.lang.t("op.owner", who=by, name=name, item=item)
            self.announce.update(incident, message, now, edit_top=False, edit_checklist=True)
        return incident

    def assignments(self, incident_id: int) -> Assignments:
        """The commander and item owners, the latest assignment winning."""
        return assignments_of(self.store.timeline(incident_id))

    def show_checklist(self, incident_id: int, by: str, now: datetime) -> Incident:
        """Post the current checklist again at the bottom of the thread."""
        incident = self.store.incident(incident_id)
        with self.store.transaction():
            self.announce.checklist_again(incident, now)
            self.store.add_timeline(incident_id, now, by, "checklist_shown", {})
        return incident

    def _active(self, incident_id: int) -> Incident:
        incident = self.store.incident(incident_id)
        if not is_active(incident):
            raise Refusal(
                f"incident {incident_id} is {incident.status.value}; its checklist can no longer change",
                "refuse.inactive",
                {"id": incident_id, "status": incident.status.value},
            )
        return incident

    def _item(self, incident: Incident, item_id: str) -> ChecklistEntry:
        entry = next((e for e in incident.checklist if e.item_id == item_id), None)
        if entry is None:
            known = ", ".join(e.item_id for e in incident.checklist)
            message = f"incident {incident.id} has no checklist item {item_id!r}; its items: {known}"
            raise Refusal(message, "refuse.no_item", {"id": incident.id, "item": item_id, "known": known})
        return entry

    def _transition(self, incident: Incident, action: Action, by: str, now: datetime, text: str) -> Incident:
        status = transition(incident, action)  # the lifecycle table says whether, and to what
        with self.store.transaction():
            self.store.set_status(incident.id, status, now, by)
            self.store.add_timeline(incident.id, now, by, status.value, {"from": incident.status.value})
            updated = self.store.incident(incident.id)
            self.announce.update(updated, text, now, edit_top=True)
        return updated
