"""What people do to an incident: acknowledge, tick, note, resolve, close.

Every operation checks the lifecycle (open -> acknowledged -> stable -> resolved -> closed,
the table ``monitor.incident_core.LIFECYCLE``),
records who and when in the timeline, and posts to the incident's thread. The CLI, the HTTP
API and Slack's buttons all call these.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from monitor.announce import Announcer
from monitor.errors import InvalidOperation
from monitor.incident_core import Action, is_active, transition
from monitor.models import Incident, IncidentStatus
from monitor.notify.render import Renderer
from monitor.playbooks import Playbook


class OpsStore(Protocol):
    """What the operations people run read and write."""

    def add_timeline(
        self, incident_id: int, at: datetime, actor: str, kind: str, detail: Mapping[str, Any]
    ) -> None: ...

    def incident(self, incident_id: int) -> Incident: ...

    def set_item_done(self, incident_id: int, item_id: str, *, at: datetime | None, by: str | None) -> None: ...

    def set_status(self, incident_id: int, status: IncidentStatus, at: datetime, by: str | None = None) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def enqueue(
        self,
        destination: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: datetime,
        incident_id: int | None = None,
        thread_of: int | None = None,
        update_of: int | None = None,
    ) -> int: ...

    def first_message(self, incident_id: int, destination: str, kind: str) -> int | None: ...


class IncidentOps:
    def __init__(self, store: OpsStore, renderers: Mapping[str, Renderer], playbooks: Mapping[str, Playbook]) -> None:
        self.store = store
        self.renderers = renderers
        self.playbooks = playbooks
        self.announce = Announcer(store, renderers, playbooks)

    def acknowledge(self, incident_id: int, by: str, now: datetime) -> Incident:
        return self._transition(self.store.incident(incident_id), "acknowledge", by, now, f"acknowledged by {by}")

    def mark_stable(self, incident_id: int, by: str, now: datetime) -> Incident:
        return self._transition(self.store.incident(incident_id), "stable", by, now, f"marked stable by {by}")

    def resolve(self, incident_id: int, by: str, now: datetime) -> Incident:
        return self._transition(self.store.incident(incident_id), "resolve", by, now, f"resolved by {by}")

    def close(self, incident_id: int, by: str, now: datetime, *, force: bool = False) -> Incident:
        incident = self.store.incident(incident_id)
        text = f"closed by {by}" + (" (forced)" if force else "")
        return self._transition(incident, "close_forced" if force else "close", by, now, text)

    def tick(self, incident_id: int, item_id: str, by: str, now: datetime, *, done: bool = True) -> Incident:
        incident = self._active(incident_id)
        entry = next((e for e in incident.checklist if e.item_id == item_id), None)
        if entry is None:
            known = ", ".join(e.item_id for e in incident.checklist)
            raise InvalidOperation(f"incident {incident_id} has no checklist item {item_id!r}; its items: {known}")
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
            late = " (late)" if done and now > entry.due_at else ""
            self.announce.update(
                updated, f"{mark} {entry.text} / {entry.text_en} — {by}{late}", now, edit_top=False, edit_checklist=True
            )
        return updated

    def note(self, incident_id: int, text: str, by: str, now: datetime) -> Incident:
        incident = self.store.incident(incident_id)
        if not text.strip():
            raise InvalidOperation("a note needs some text")
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "note", {"text": text})
            self.announce.update(incident, f"note from {by}: {text}", now, edit_top=False)
        return incident

    def mute(self, incident_id: int, hours: int, by: str, now: datetime) -> Incident:
        """Silence reminders and escalations for ``hours`` (signals still update the incident)."""
        incident = self._active(incident_id)
        until = now + timedelta(hours=hours)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "muted", {"until": until.isoformat(), "hours": hours})
            self.announce.update(
                incident, f"reminders muted for {hours} h by {by} (until {until:%H:%M} UTC)", now, edit_top=False
            )
        return incident

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
            raise InvalidOperation(
                f"incident {incident_id} is {incident.status.value}; its checklist can no longer change"
            )
        return incident

    def _transition(self, incident: Incident, action: Action, by: str, now: datetime, text: str) -> Incident:
        status = transition(incident, action)  # the lifecycle table says whether, and to what
        with self.store.transaction():
            self.store.set_status(incident.id, status, now, by)
            self.store.add_timeline(incident.id, now, by, status.value, {"from": incident.status.value})
            updated = self.store.incident(incident.id)
            self.announce.update(updated, text, now, edit_top=True)
        return updated
