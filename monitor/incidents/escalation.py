"""Escalation people notice: per-severity timeouts and chains, direct messages, a pager webhook.

``incidents.escalation`` gives, per severity, how long an incident may stay unacknowledged
before each step of the chain (``ack_timeout``) and the chain of roster roles
(``chain``; default: the roster's ``escalation``); severities not listed use
``incidents.ack_timeout`` and the roster's chain::

    incidents:
      escalation:
        critical: {ack_timeout: 5m, chain: [crisis_lead, management]}
        high: {ack_timeout: 15m}
        medium: {ack_timeout: 60m}
      direct_messages: true           # DM the person escalated to (besides the thread)
      escalation_webhook:             # optional: a paging tool
        url_env: CRISISMON_PAGER_URL
        timeout: 10s

Each new step (not the repeated reminders) is posted in the incident's thread, as before,
and also sent as a Slack direct message (outbox kind ``dm``) to the person holding the
role, when the roster gives their Slack id and ``direct_messages`` is on; with
``escalation_webhook`` the outbox also POSTs one generic JSON document (kind ``page``, to
destination ``page``: see :mod:`monitor.notify.webhook`). Both go through the outbox:
retried, never lost, held back by silences.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from monitor.config.durations import Duration
from monitor.config.validation import Strict, found_expected
from monitor.models import Incident
from monitor.notify.i18n import ENGLISH, Lang
from monitor.slack.blocks import escape as escape_mrkdwn

log = logging.getLogger(__name__)

PAGE_DESTINATION = "page"
SLACK = "slack"


class EscalationLevel(Strict):
    """The escalation of one severity."""

    ack_timeout: Duration = Field(description="Escalate one step further each time this passes unacknowledged")
    chain: tuple[str, ...] = Field(default=(), description="Roster roles in order; empty: the roster's escalation")

    @field_validator("ack_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise found_expected("0", "a duration above zero, e.g. 5m")
        return value

    @field_validator("chain")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        from monitor.config.roles import known_roles

        return known_roles(roles)


class EscalationWebhook(Strict):
    """An outgoing webhook: one JSON POST per escalation step (for a paging tool)."""

    url_env: str = Field(
        default="CRISISMON_ESCALATION_WEBHOOK_URL", description="Environment variable holding the URL (a secret)"
    )
    timeout: Duration = Field(default=timedelta(seconds=10), description="How long one POST may take in total")


@dataclass(frozen=True)
class Steps:
    """How one incident escalates: the wait per step and the chain of roles."""

    timeout: timedelta
    chain: tuple[str, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    default_timeout: timedelta = timedelta(minutes=15)
    by_severity: Mapping[str, EscalationLevel] = field(default_factory=dict)

    def steps(self, severity: str, roster_chain: tuple[str, ...]) -> Steps:
        level = self.by_severity.get(severity)
        if level is None:
            return Steps(self.default_timeout, roster_chain)
        return Steps(level.ack_timeout, level.chain or roster_chain)


def policy_of(incidents: Any) -> EscalationPolicy:
    """The policy of an ``incidents:`` config section."""
    return EscalationPolicy(incidents.ack_timeout, dict(incidents.escalation))


class Escalator:
    """Queues the direct message and the page of one escalation step (SlaWatch calls it).

    ``destinations``: the outbox destinations there are (a DM needs ``slack``, a page ``page``);
    ``lang``: the team's language (the DM's words; the page's ``text`` is the thread's line).
    """

    def __init__(self, store: Any, destinations: Any, *, direct_messages: bool = True, lang: Lang = ENGLISH) -> None:
        self.store = store
        self.destinations = destinations
        self.direct_messages = direct_messages
        self.lang = lang

    def __call__(self, incident: Incident, level: int, role: str, text: str, roster: Any, now: datetime) -> int:
        """Queue what this step sends beyond the thread; return how many messages."""
        person = roster.person_for(role)
        queued = 0
        slack = self.destinations.get(SLACK)
        can_dm = slack is not None and getattr(slack, "direct_messages", True)
        if self.direct_messages and can_dm and person is not None and person.slack:
            payload = dm_payload(incident, role, person.slack, text, self.lang)
            self.store.enqueue(SLACK, "dm", payload, now=now, incident_id=incident.id)
            queued += 1
        if PAGE_DESTINATION in self.destinations:
            payload = page_payload(incident, level, role, person.name if person else None, text, now)
            self.store.enqueue(PAGE_DESTINATION, "page", payload, now=now, incident_id=incident.id)
            queued += 1
        return queued


def dm_payload(incident: Incident, role: str, user: str, text: str, lang: Lang = ENGLISH) -> dict[str, Any]:
    """A direct message to ``user``: what the incident is, why them, where to act (in ``lang``)."""
    title = escape_mrkdwn(incident.title)
    called = escape_mrkdwn(lang.role(role))
    fields = {"id": incident.id, "role": called, "title": title}
    status = escape_mrkdwn(lang.word(incident.status.value))
    summary = lang.t("dm.summary", **fields, severity=lang.severity(incident.severity), status=status)
    body = f"{summary}\n{escape_mrkdwn(text)}\n{lang.t('dm.act', id=incident.id)}"
    return {
        "channel": user,
        "text": lang.t("dm.fallback", **fields),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}}],
    }


def page_payload(
    incident: Incident, level: int, role: str, person: str | None, text: str, now: datetime
) -> dict[str, Any]:
    """The generic JSON document POSTed to ``escalation_webhook`` (docs/slack.md shows it)."""
    return {
        "event": "incident.escalated",
        "at": now.isoformat(),
        "level": level,
        "role": role,
        "person": person,
        "text": text,
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status.value,
            "rule": incident.rule_id,
            "group": incident.group,
            "playbook": incident.playbook,
            "opened_at": incident.opened_at.isoformat(),
        },
    }
