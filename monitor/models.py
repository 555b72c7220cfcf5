"""Plain data that flows through the pipeline.

Item -> ScoredItem -> (per-rule series) -> Signal -> Incident -> Message.
Runtime values only; configuration models live in ``monitor.config.settings``, ``monitor.config.rules``
and ``monitor.config.playbooks``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from monitor.detect.evidence import Summary

ItemKind = Literal["post", "complaint", "count"]


def stable_id(*parts: str | None) -> str:
    """A short stable id from the given parts (used when a source gives no guid)."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8"))
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Item:
    """One news article, social post or complaint record (or a complaint count).

    ``id`` is stable within ``source``: the source's guid, else ``stable_id(link, title)``.
    ``published_at`` is timezone-aware UTC; series are bucketed by it.
    ``count`` is 1 except for aggregated complaint counts (``kind="count"``).
    ``attrs`` carries grouping fields such as ``product``, ``region``, ``brand``.
    """

    source: str
    id: str
    text: str
    published_at: datetime
    title: str = ""
    url: str | None = None
    kind: ItemKind = "post"
    category: str | None = None
    count: int = 1
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoredItem:
    """An item with its sentiment (1 = positive, SnowNLP's convention).

    ``sentiment`` is None when the text was not scored (neither Chinese nor English, or
    empty): such an item counts as volume, never as negative or positive. ``category`` is
    the source's category when it gave one, else the keyword classifier's (None when
    nothing matched). ``lang`` is zh, en or other; ``norm`` and ``tokens`` are the text as
    matching reads it (``monitor.text.prepare``); ``story`` groups near-duplicates.
    """

    item: Item
    sentiment: float | None
    category: str | None
    lang: str = "zh"
    norm: str = ""
    tokens: str | None = None  # words of ``norm``, space-separated; None: not prepared at ingest
    story: int | None = None  # the story (near-duplicate group) the item joined at ingest


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one poll of a source produced: items, and the problems it skipped."""

    items: list[Item] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    not_modified: bool = False


class SignalState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a condition holds: what crossed what."""

    kind: str  # threshold | spike | anomaly
    metric: str
    value: float
    window: str
    baseline: float | None = None
    ratio: float | None = None
    zscore: float | None = None
    op: str | None = None
    threshold: float | None = None
    note: str | None = None

    def describe(self) -> str:
        if self.kind == "immediate":
            at_least = f", at least {fmt_num(self.threshold or 1)} needed"
            return f"{fmt_num(self.value)} report(s) in {self.window} that need action at once{at_least}"
        if self.note:
            return f"{self.metric}: {self.note}"
        if self.kind == "spike" and self.baseline is not None:
            ratio = f" (x{self.ratio:.1f})" if self.ratio is not None else ""
            return f"{self.metric} {fmt_num(self.value)} in {self.window} vs baseline {fmt_num(self.baseline)}{ratio}"
        if self.kind == "anomaly" and self.baseline is not None:
            z = f", z={self.zscore:.1f}" if self.zscore is not None else ""
            return f"{self.metric} {fmt_num(self.value)} in {self.window} vs expected {fmt_num(self.baseline)}{z}"
        return f"{self.metric} {fmt_num(self.value)} in {self.window} {self.op} {fmt_num(self.threshold or 0)}"


def fmt_num(value: float) -> str:
    if value == int(value) and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.2f}"


@dataclass(frozen=True, slots=True)
class TopItem:
    """A piece of evidence shown in an alert: one story the rule counts (its first item),
    with the lowest sentiment of its copies, how many copies the window holds
    (``copies``), through which ``sources``, and its author and reach where known."""

    source: str
    title: str
    text: str
    published_at: datetime
    url: str | None
    sentiment: float | None
    copies: int = 1
    sources: tuple[str, ...] = ()
    author: str | None = None
    reach: int | None = None
    lang: str = "zh"


@dataclass(frozen=True, slots=True)
class Signal:
    """A rule's verdict for one group at one evaluation."""

    rule_id: str
    group: str  # "" when the rule has no group_by, else "product=X,region=Y"
    state: SignalState
    at: datetime
    holds: bool
    severity: str
    evidence: tuple[Evidence, ...] = ()
    top_items: tuple[TopItem, ...] = ()  # the evidence (each story once, most negative first), while firing
    summary: Summary | None = None  # what is spreading (monitor.detect.evidence), while firing
    transitioned: bool = False  # state changed at this evaluation
    since: datetime | None = None  # when the current firing episode started


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    STABLE = "stable"
    RESOLVED = "resolved"
    CLOSED = "closed"


# "Active": what people still work on. The one definition; the store's SQL reads ACTIVE_SQL.
ACTIVE_STATUSES = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.STABLE)
ACTIVE_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in ACTIVE_STATUSES) + ")"


@dataclass(frozen=True, slots=True)
class ChecklistEntry:
    """One playbook item instantiated for an incident, with its SLA due time."""

    item_id: str
    phase: str
    phase_title: str
    text: str  # Chinese
    text_en: str
    owner: str  # owner role
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    rule_id: str
    group: str
    playbook: str
    title: str
    status: IncidentStatus
    severity: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    acknowledged_by: str | None = None
    evidence: tuple[Evidence, ...] = ()
    top_items: tuple[TopItem, ...] = ()
    checklist: tuple[ChecklistEntry, ...] = ()
    summary: Summary | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    actor: str
    kind: str
    detail: Mapping[str, Any]


MessageKind = Literal["alert", "checklist", "update", "chart", "source_down", "source_up", "admin", "dm", "page"]


@dataclass(frozen=True, slots=True)
class Message:
    """A message waiting in, or taken from, the outbox.

    ``payload`` is rendered once, when the message is queued: ``text`` (plain fallback)
    and, for Slack, ``blocks``. ``thread_of`` names the outbox message whose remote ref
    (Slack ts) this one replies under; ``update_of`` names one whose remote message this
    one replaces in place.
    """

    id: int
    destination: str  # "console" | "slack" | ...
    kind: MessageKind
    payload: Mapping[str, Any]
    incident_id: int | None = None
    thread_of: int | None = None
    update_of: int | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a notifier got back: the remote reference (Slack ts), if any."""

    ref: str | None = None
    channel: str | None = None


SilenceOp = Literal["=", "!=", "=~", "!~"]
SILENCE_LABELS = ("rule", "group", "source", "playbook")


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition of a silence: ``label op value`` (Alertmanager's four operators).

    ``=~`` and ``!~`` take a regular expression matched against the whole value.
    """

    label: str  # rule | group | source | playbook
    op: SilenceOp
    value: str

    def matches(self, values: tuple[str, ...]) -> bool:
        """An incident has one rule, group and playbook, and maybe several sources: a positive
        matcher holds when one of them matches, a negative one when none does."""
        import re

        candidates = values or ("",)
        if self.op in ("=", "!="):
            hit = any(v == self.value for v in candidates)
        else:
            hit = any(re.fullmatch(self.value, v) is not None for v in candidates)
        return hit if self.op in ("=", "=~") else not hit

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"


@dataclass(frozen=True, slots=True)
class Silence:
    """Messages of incidents whose labels match every matcher are not sent between
    ``starts_at`` and ``ends_at`` (the incident is still opened and recorded)."""

    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    author: str
    comment: str
    created_at: datetime
    ended_by: str | None = None  # who expired it early

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, tuple[str, ...]]) -> bool:
        return all(m.matches(labels.get(m.label, ())) for m in self.matchers)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an outbox message stands: sent (to which channel, with which ref), pending
    (with its last error and next attempt), failed for good or silenced."""

    message_id: int
    destination: str
    kind: str
    status: str  # pending | sent | failed | silenced
    channel: str | None
    ref: str | None
    attempts: int
    last_error: str | None
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class Assignments:
    """Who leads an incident and who owns which checklist item (roster names): the latest
    ``commander`` and ``owner`` entries of its timeline win (:func:`assignments_of`)."""

    commander: str | None = None
    owners: Mapping[str, str] = field(default_factory=dict)


def assignments_of(timeline: Iterable[TimelineEntry]) -> Assignments:
    """The commander and item owners an incident's timeline records."""
    commander: str | None = None
    owners: dict[str, str] = {}
    for entry in timeline:
        if entry.kind == "commander":
            commander = str(entry.detail.get("name"))
        elif entry.kind == "owner":
            owners[str(entry.detail.get("item"))] = str(entry.detail.get("name"))
    return Assignments(commander, owners)
