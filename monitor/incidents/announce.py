"""One announcer for every incident message: the alert and checklist of a new incident,
thread updates (with edits of the alert and checklist in place), the checklist shown again,
and the admins' notes. The incident service, the operations people run and the SLA watch
all queue their messages through it; it queues to every destination's renderer and never
decides anything (``monitor.incidents.core`` does)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from monitor.config.playbooks import Playbook
from monitor.models import Assignments, Incident, TimelineEntry, assignments_of
from monitor.notify.render import Renderer


class Enqueuer(Protocol):
    """Where a message is queued for delivery (the outbox)."""

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


class OutboxWriter(Enqueuer, Protocol):
    """What the announcer needs of the store."""

    def first_message(self, incident_id: int, destination: str, kind: str) -> int | None: ...

    def timeline(self, incident_id: int) -> list[TimelineEntry]: ...


class Announcer:
    """``playbooks`` is the current view (``monitor.config.current``): read at each message."""

    def __init__(
        self, store: OutboxWriter, renderers: Mapping[str, Renderer], playbooks: Mapping[str, Playbook]
    ) -> None:
        self.store = store
        self.renderers = renderers
        self.playbooks = playbooks

    def opened(self, incident: Incident, rule_description: str, playbook: Playbook, now: datetime) -> None:
        """The alert and, in its thread, the checklist of a new incident."""
        for destination, renderer in self.renderers.items():
            alert = renderer.alert(incident, rule_description=rule_description, playbook_title=playbook.title, now=now)
            alert_id = self.store.enqueue(destination, "alert", alert, now=now, incident_id=incident.id)
            checklist = renderer.checklist(incident, playbook_title=playbook.title, now=now)
            self.store.enqueue(
                destination, "checklist", checklist, now=now, incident_id=incident.id, thread_of=alert_id
            )

    def chart(self, incident: Incident, png: bytes, now: datetime) -> None:
        """A chart in the alert's thread, where the destination shows images."""
        for destination, renderer in self.renderers.items():
            if not getattr(renderer, "shows_images", False):
                continue
            alert_id = self.store.first_message(incident.id, destination, "alert")
            payload = renderer.chart(incident, png)
            self.store.enqueue(destination, "chart", payload, now=now, incident_id=incident.id, thread_of=alert_id)

    def shows_images(self) -> bool:
        return any(getattr(r, "shows_images", False) for r in self.renderers.values())

    def update(
        self,
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
        playbook = self.playbooks.get(incident.playbook)
        for destination, renderer in self.renderers.items():
            alert_id = self.store.first_message(incident.id, destination, "alert")
            if alert_id is None:
                continue
            self.store.enqueue(
                destination,
                "update",
                renderer.update(incident, text, notify=notify_roles),
                now=now,
                incident_id=incident.id,
                thread_of=alert_id,
            )
            if edit_top and playbook is not None:
                payload = renderer.alert(
                    incident, rule_description=incident.title, playbook_title=playbook.title, now=now
                )
                self.store.enqueue(destination, "alert", payload, now=now, incident_id=incident.id, update_of=alert_id)
            checklist_id = self.store.first_message(incident.id, destination, "checklist")
            if edit_checklist and playbook is not None and checklist_id is not None:
                assigned = self._assignments(incident)
                payload = renderer.checklist(incident, playbook_title=playbook.title, now=now, assignments=assigned)
                self.store.enqueue(
                    destination, "checklist", payload, now=now, incident_id=incident.id, update_of=checklist_id
                )

    def checklist_again(self, incident: Incident, now: datetime) -> None:
        """The current checklist posted again at the bottom of the thread."""
        playbook = self.playbooks.get(incident.playbook)
        title = playbook.title if playbook else incident.playbook
        assigned = self._assignments(incident)
        for destination, renderer in self.renderers.items():
            alert_id = self.store.first_message(incident.id, destination, "alert")
            if alert_id is None:
                continue
            payload = renderer.checklist(incident, playbook_title=title, now=now, assignments=assigned)
            self.store.enqueue(destination, "checklist", payload, now=now, incident_id=incident.id, thread_of=alert_id)

    def _assignments(self, incident: Incident) -> Assignments:
        """The commander and item owners people assigned (the checklist message shows them)."""
        return assignments_of(self.store.timeline(incident.id))

    def admins(self, text: str, now: datetime) -> None:
        """A note to every destination (the operations channel), outside any incident."""
        for destination in self.renderers:
            self.store.enqueue(destination, "admin", {"text": text}, now=now)
