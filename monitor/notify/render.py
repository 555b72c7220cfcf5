"""How each destination renders incident messages (chosen when a message is queued)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from monitor.models import Assignments, Incident
from monitor.notify import text
from monitor.notify.i18n import ENGLISH, Lang


class Renderer(Protocol):
    def alert(
        self, incident: Incident, *, rule_description: str, playbook_title: str, now: datetime
    ) -> dict[str, Any]: ...

    def checklist(
        self, incident: Incident, *, playbook_title: str, now: datetime, assignments: Assignments | None = None
    ) -> dict[str, Any]:
        """The checklist message; ``assignments``: the commander and item owners people assigned."""
        ...

    def update(self, incident: Incident, message: str, *, notify: Sequence[str] = ()) -> dict[str, Any]:
        """A thread reply; ``notify`` names roles to alert (mentions where the destination has them)."""
        ...

    def chart(self, incident: Incident, png: bytes) -> dict[str, Any]: ...


class TextRenderer:
    shows_images = False

    def __init__(self, lang: Lang = ENGLISH) -> None:
        self.lang = lang

    def chart(self, incident: Incident, png: bytes) -> dict[str, Any]:
        return {"text": self.lang.t("console.chart", id=incident.id, n=len(png))}

    def alert(self, incident: Incident, *, rule_description: str, playbook_title: str, now: datetime) -> dict[str, Any]:
        return text.render_alert(
            incident, rule_description=rule_description, playbook_title=playbook_title, now=now, lang=self.lang
        )

    def checklist(
        self, incident: Incident, *, playbook_title: str, now: datetime, assignments: Assignments | None = None
    ) -> dict[str, Any]:
        return text.render_checklist(
            incident, playbook_title=playbook_title, now=now, lang=self.lang, assignments=assignments
        )

    def update(self, incident: Incident, message: str, *, notify: Sequence[str] = ()) -> dict[str, Any]:
        to = f" ({self.lang.t('console.to')}: {', '.join(self.lang.role(r) for r in notify)})" if notify else ""
        return text.render_update(incident, message + to, lang=self.lang)


class SlackRenderer:
    """Block Kit payloads; ``mentions`` maps owner roles to Slack user ids."""

    shows_images = True

    def __init__(self, mentions: Mapping[str, str] | None = None, lang: Lang = ENGLISH) -> None:
        self.mentions = dict(mentions or {})
        self.lang = lang

    def chart(self, incident: Incident, png: bytes) -> dict[str, Any]:
        from monitor.slack import blocks

        return blocks.render_file(
            png,
            filename=f"incident-{incident.id}.png",
            title=f"#{incident.id} {incident.title}",
            text=self.lang.t("chart.comment"),
        )

    def alert(self, incident: Incident, *, rule_description: str, playbook_title: str, now: datetime) -> dict[str, Any]:
        from monitor.slack import blocks

        return blocks.render_alert(
            incident,
            rule_description=rule_description,
            playbook_title=playbook_title,
            now=now,
            mentions=self.mentions,
            lang=self.lang,
        )

    def checklist(
        self, incident: Incident, *, playbook_title: str, now: datetime, assignments: Assignments | None = None
    ) -> dict[str, Any]:
        from monitor.slack import blocks

        return blocks.render_checklist(
            incident,
            playbook_title=playbook_title,
            now=now,
            mentions=self.mentions,
            lang=self.lang,
            assignments=assignments,
        )

    def update(self, incident: Incident, message: str, *, notify: Sequence[str] = ()) -> dict[str, Any]:
        from monitor.slack import blocks

        users = [self.mentions[role] for role in notify if role in self.mentions]
        return blocks.render_update(incident, message, notify=users, lang=self.lang)

    def statement(self, incident: Incident, message: str, *, kind: str, version: int) -> dict[str, Any]:
        """A submitted statement in the thread, with Approve / Return / Edit buttons."""
        from monitor.slack import blocks

        buttons = blocks.statement_actions(incident.id, kind, version, self.lang)
        return blocks.render_update(incident, message, lang=self.lang, actions_block=buttons)
