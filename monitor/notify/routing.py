"""Which Slack channel a message goes to.

``notify.slack.routes`` is a list of routes, tried in order; the first whose every given
field matches the incident wins (``playbook``, ``severity``, ``rule``: a name or a list of
names), else ``notify.slack.channel`` (the default). Admin messages (reload results,
sources down or back, delivery failures: kinds ``admin``, ``source_down``, ``source_up``)
go to ``notify.slack.operations_channel`` when set. A direct message goes to its user.

An incident stays where its alert went: thread replies and edits follow their parent's
channel, and every later message of an incident follows its alert (a raised severity does
not move a conversation halfway). Example::

    notify:
      slack:
        channel: C0CRISIS01            # default
        operations_channel: C0OPS0001  # reloads, sources, delivery failures
        routes:
          - playbook: natural_disaster
            channel: C0DISASTR1
          - playbook: legal_dispute
            channel: C0LEGAL001
          - severity: [critical]
            channel: C0CRITICAL
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import Field, field_validator, model_validator

from monitor.config.validation import Strict, found_expected
from monitor.detect.severity import SEVERITIES
from monitor.errors import Problem
from monitor.models import Incident, Message

ADMIN_KINDS = frozenset({"admin", "source_down", "source_up"})
CHANNEL_PATTERN = r"^#?[^\s#@<>|]{1,80}$"


def _names(value: object) -> object:
    return (value,) if isinstance(value, str) else value


class SlackRoute(Strict):
    """Incidents matching every given field go to ``channel``."""

    playbook: tuple[str, ...] = Field(default=(), description="Playbook id(s)")
    severity: tuple[str, ...] = Field(default=(), description="Severity name(s): low, medium, high, critical")
    rule: tuple[str, ...] = Field(default=(), description="Rule id(s)")
    channel: str = Field(pattern=CHANNEL_PATTERN, description="Channel id (C…) or name")

    @field_validator("playbook", "severity", "rule", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return _names(value)

    @field_validator("severity")
    @classmethod
    def _known_severities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in SEVERITIES]
        if unknown:
            raise found_expected(", ".join(map(repr, unknown)), f"severities among {', '.join(SEVERITIES)}")
        return value

    @model_validator(mode="after")
    def _matches_something(self) -> SlackRoute:
        if not (self.playbook or self.severity or self.rule):
            raise ValueError("a route naming a playbook, severity or rule (the default is notify.slack.channel)")
        return self

    def matches(self, incident: Incident) -> bool:
        return (
            (not self.playbook or incident.playbook in self.playbook)
            and (not self.severity or incident.severity in self.severity)
            and (not self.rule or incident.rule_id in self.rule)
        )


def channel_for(
    routes: Sequence[SlackRoute], operations: str | None, kind: str, incident: Incident | None
) -> str | None:
    """The channel of a message of ``kind`` about ``incident`` (None: not about an incident);
    None: the default channel."""
    if kind in ADMIN_KINDS:
        return operations
    if incident is None:
        return None
    return next((r.channel for r in routes if r.matches(incident)), None)


class RoutingStore(Protocol):
    def message_channel(self, message_id: int) -> str | None: ...
    def first_message(self, incident_id: int, destination: str, kind: str) -> int | None: ...
    def incident(self, incident_id: int) -> Incident: ...


class MessageRouter:
    """The Slack notifier's ``route``: the channel of one outbox message (None: the default).

    ``config`` is the current ``notify.slack`` section (a reload replaces it).
    """

    def __init__(self, store: RoutingStore, config: Any) -> None:
        self.store = store
        self.config = config

    def __call__(self, message: Message) -> str | None:
        if message.kind == "dm" and message.payload.get("channel"):
            return str(message.payload["channel"])
        for parent in (message.update_of, message.thread_of):
            if parent is not None:
                channel = self.store.message_channel(parent)
                if channel:
                    return channel
        if message.incident_id is not None and message.kind not in ADMIN_KINDS:
            first = self.store.first_message(message.incident_id, message.destination, "alert")
            channel = self.store.message_channel(first) if first is not None and first != message.id else None
            if channel:
                return channel
        incident = self.store.incident(message.incident_id) if message.incident_id is not None else None
        return channel_for(self.config.routes, self.config.operations_channel, message.kind, incident)


class DropReporter:
    """Tells the operations channel (and the console) that a message was dropped for good.

    The Dispatcher calls it for a permanent failure; a dropped admin message is only logged,
    so a broken operations channel cannot feed itself.
    """

    def __init__(self, store: Any, destinations: Callable[[], Sequence[str]]) -> None:
        self.store = store
        self.destinations = destinations

    def __call__(self, destination: str, message: Message, reason: str, now: datetime) -> None:
        if message.kind in ADMIN_KINDS:
            return
        about = f" of incident #{message.incident_id}" if message.incident_id is not None else ""
        text = f"delivery failed for good: {message.kind} message {message.id}{about} to {destination}: {reason}"
        for target in self.destinations():
            if target != "page":
                self.store.enqueue(target, "admin", {"text": text[:2000]}, now=now)


def known_names(config: Any) -> tuple[set[str], set[str]]:
    """The playbook ids and rule ids of the config's folders (their own problems are
    reported where they are loaded)."""
    from pathlib import Path

    from monitor.config.playbooks import load_playbooks
    from monitor.config.rules import load_rules
    from monitor.text.classify import KeywordClassifier

    playbooks, _ = load_playbooks(Path(config.playbooks_dir))
    rules, _ = load_rules(
        Path(config.rules_dir), playbooks=playbooks, sources=None, categories=KeywordClassifier.default().keys()
    )
    return set(playbooks), {r.id for r in rules.rules}


def route_problems(routes: Sequence[SlackRoute], playbooks: set[str], rules: set[str], where: Any) -> list[Problem]:
    """Routes naming a playbook or rule that does not exist (``where(index, field)`` gives
    (path, line, dotted field) in the config file)."""
    problems: list[Problem] = []
    for index, route in enumerate(routes):
        for field, names, known, what in (
            ("playbook", route.playbook, playbooks, "playbook ids"),
            ("rule", route.rule, rules, "rule ids"),
        ):
            unknown = [n for n in names if n not in known]
            if unknown:
                path, line, dotted = where(index, field)
                listed = ", ".join(sorted(known)[:12]) or "none loaded"
                problems.append(Problem(path, line, dotted, ", ".join(map(repr, unknown)), f"{what} ({listed})"))
    return problems
