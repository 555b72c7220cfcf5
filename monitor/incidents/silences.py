"""Silences: Alertmanager-style matchers that hold back an incident's messages for a time.

A silence has matchers over four labels of an incident: ``rule`` (its rule id), ``group``
(``product=X,region=Y`` or empty), ``playbook`` and ``source`` (the sources of its evidence;
a positive matcher holds when one of them matches, a negative one when none does). Each
matcher is ``label=value``, ``label!=value``, ``label=~regex`` or ``label!~regex`` (a
regular expression matching the whole value). A silence with several matchers holds when
all of them hold.

While a silence is active (``starts_at <= now < ends_at``) the outbox sends no message of
an incident it matches, to any destination: the rule still records its signal and the
incident still opens, and the incident's timeline gets a ``silenced`` entry naming the
silence, its author and comment. A silence created to start later (a planned launch) acts
from its start. Expiring a silence ends it now.

The text form, shared by the CLI and the Slack ``/crisis silence`` command::

    rule=launch_spike group=~"product=X1.*" for 6h from 2026-11-25T09:00+08:00 新品发布会

matchers first (quotes allowed), then ``for DURATION`` or ``until TIME``, optionally
``from TIME``, and the rest is the comment (required: say why).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from monitor.config.durations import format_duration, parse_duration
from monitor.errors import InvalidOperation
from monitor.models import SILENCE_LABELS, Incident, Matcher, Message, Silence, SilenceOp

SYSTEM = "crisismon"
MAX_SPAN = timedelta(days=90)
MAX_COMMENT = 500
MAX_VALUE = 200
_OPS: tuple[SilenceOp, ...] = ("=~", "!~", "!=", "=")  # longest first
_MATCHER = re.compile(r"^([a-z]+)(=~|!~|!=|=)(.*)$", re.S)


class SilenceError(InvalidOperation):
    """A silence that cannot be created or expired as asked (the message says what to write)."""


class SilenceStore(Protocol):
    def add_silence(
        self,
        matchers: Sequence[Matcher],
        *,
        starts_at: datetime,
        ends_at: datetime,
        author: str,
        comment: str,
        created_at: datetime,
    ) -> int: ...
    def silence(self, silence_id: int) -> Silence: ...
    def silences(self, *, ending_after: datetime | None = None) -> list[Silence]: ...
    def end_silence(self, silence_id: int, at: datetime, by: str | None = None) -> None: ...


# -- parsing -----------------------------------------------------------------------------


def parse_matcher(text: str) -> Matcher:
    """``rule=x``, ``group!=y``, ``source=~weibo.*``, ``playbook!~legal.*``."""
    match = _MATCHER.match(text.strip())
    if match is None:
        raise SilenceError(
            f"matcher {text[:60]!r} is not label=value: write e.g. rule=product_quality or source=~weibo.* "
            f"(labels: {', '.join(SILENCE_LABELS)}; operators =, !=, =~, !~)"
        )
    label, op, value = match.groups()
    if label not in SILENCE_LABELS:
        raise SilenceError(f"matcher {text[:60]!r}: unknown label {label!r}; labels: {', '.join(SILENCE_LABELS)}")
    if len(value) > MAX_VALUE:
        raise SilenceError(f"matcher {label}{op}…: the value is {len(value)} characters, at most {MAX_VALUE}")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise SilenceError(f"matcher {text[:60]!r}: not a regular expression ({exc})") from None
    return Matcher(label, cast(SilenceOp, op), value)


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Matchers from ``label<op>value`` texts; at least one must match something specific."""
    matchers = tuple(parse_matcher(t) for t in texts)
    if not matchers:
        raise SilenceError("a silence needs at least one matcher such as rule=product_quality")
    if all(_matches_everything(m) for m in matchers):
        raise SilenceError("these matchers silence every incident: name a rule, group, source or playbook")
    return matchers


def _matches_everything(matcher: Matcher) -> bool:
    if matcher.op == "=~":
        return matcher.value in (".*", ".+")
    return matcher.op in ("!=", "!~") and matcher.value == ""


def parse_time(text: str, now: datetime) -> datetime:
    """An ISO time (``2026-11-25T09:00+08:00``; without a zone: UTC) or ``now``."""
    if text.strip().lower() == "now":
        return now
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SilenceError(f"time {text[:40]!r} is not ISO 8601: write e.g. 2026-11-25T09:00+08:00") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# -- creating, listing, expiring -----------------------------------------------------------


def create(
    store: SilenceStore,
    matchers: Sequence[Matcher],
    *,
    author: str,
    comment: str,
    now: datetime,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
) -> Silence:
    """Record a silence; it starts at ``starts_at`` (default: now) and ends at ``ends_at`` or
    after ``duration``. Raises SilenceError for an empty author or comment, an end not after
    the start or now, or a span over 90 days."""
    author, comment = " ".join(author.split()), comment.strip()
    if not author:
        raise SilenceError("say who creates the silence (author)")
    if not comment:
        raise SilenceError("say why in a comment, e.g. 'planned launch of X1, PR team watching'")
    if len(comment) > MAX_COMMENT:
        raise SilenceError(f"the comment is {len(comment)} characters, at most {MAX_COMMENT}")
    start = starts_at or now
    if (ends_at is None) == (duration is None):
        raise SilenceError("give the end of the silence: a duration (for 2h) or an end time (until …), one of them")
    end = ends_at if ends_at is not None else start + cast(timedelta, duration)
    if end <= start or end <= now:
        raise SilenceError(f"the silence would end ({end.isoformat()}) before it starts or before now")
    if end - start > MAX_SPAN:
        raise SilenceError(f"a silence lasts at most {MAX_SPAN.days} days; found {format_duration(end - start)}")
    matchers = parse_matchers(str(m) for m in matchers)
    silence_id = store.add_silence(
        matchers, starts_at=start, ends_at=end, author=author, comment=comment, created_at=now
    )
    return store.silence(silence_id)


def create_from_text(store: SilenceStore, text: str, author: str, now: datetime) -> Silence:
    """A silence from its text form (see the module docstring), as typed in Slack or the CLI."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise SilenceError(f"cannot read {text[:60]!r}: {exc} (close the quotes)") from None
    matchers: list[str] = []
    while words and _MATCHER.match(words[0]):
        matchers.append(words.pop(0))
    options: dict[str, str] = {}
    while len(words) >= 2 and words[0].lower() in ("for", "until", "from"):
        key = words.pop(0).lower()
        if key in options:
            raise SilenceError(f"{key!r} is given twice")
        options[key] = words.pop(0)
    duration = None
    if "for" in options:
        try:
            duration = parse_duration(options["for"])
        except ValueError as exc:
            raise SilenceError(f"for {options['for'][:20]!r}: expected {exc}") from None
    return create(
        store,
        parse_matchers(matchers),
        author=author,
        comment=" ".join(words),
        now=now,
        starts_at=parse_time(options["from"], now) if "from" in options else None,
        ends_at=parse_time(options["until"], now) if "until" in options else None,
        duration=duration,
    )


def list_silences(store: SilenceStore, now: datetime, *, include_ended: bool = False) -> list[Silence]:
    """The silences active now or still to come (with ``include_ended``: all of them)."""
    return store.silences() if include_ended else store.silences(ending_after=now)


def expire(store: SilenceStore, silence_id: int, now: datetime, by: str | None = None) -> Silence:
    """End a silence now (one still to come will not start), noting ``by``; SilenceError when
    it has ended."""
    silence = store.silence(silence_id)
    if silence.ends_at <= now:
        raise SilenceError(f"silence {silence_id} already ended at {silence.ends_at.isoformat()}")
    who = " ".join((by or "").split())
    store.end_silence(silence_id, now, who or None)
    return store.silence(silence_id)


def state(silence: Silence, now: datetime) -> str:
    if silence.ends_at <= now:
        return "ended"
    return "active" if silence.active(now) else "pending"


def describe(silence: Silence, now: datetime) -> str:
    """One line: id, state, matchers, span, author and comment."""
    matchers = " ".join(str(m) for m in silence.matchers)
    ended = f" (ended by {silence.ended_by})" if silence.ended_by else ""
    return (
        f"silence {silence.id} [{state(silence, now)}] {matchers} "
        f"from {silence.starts_at:%Y-%m-%d %H:%M} to {silence.ends_at:%Y-%m-%d %H:%M} UTC{ended} "
        f"by {silence.author}: {silence.comment}"
    )


def as_json(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.id,
        "state": state(silence, now),
        "matchers": [{"label": m.label, "op": m.op, "value": m.value} for m in silence.matchers],
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "author": silence.author,
        "comment": silence.comment,
        "created_at": silence.created_at.isoformat(),
        "ended_by": silence.ended_by,
    }


# -- applying -------------------------------------------------------------------------------


def incident_labels(incident: Incident) -> Mapping[str, tuple[str, ...]]:
    """The labels silences match an incident by."""
    sources = {t.source for t in incident.top_items} | {s for t in incident.top_items for s in t.sources}
    return {
        "rule": (incident.rule_id,),
        "group": (incident.group,),
        "playbook": (incident.playbook,),
        "source": tuple(sorted(sources)),
    }


def silencing(silences: Iterable[Silence], incident: Incident, now: datetime) -> Silence | None:
    """The first active silence that matches ``incident``, else None."""
    labels = incident_labels(incident)
    return next((s for s in silences if s.active(now) and s.matches(labels)), None)


class Silencer:
    """The outbox's gate: holds back a message of a silenced incident and notes it on the
    incident's timeline (once per silence)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __call__(self, message: Message, now: datetime) -> bool:
        """True when ``message`` was held back (marked ``silenced``; it will not be sent)."""
        if message.incident_id is None:
            return False
        active = [s for s in self.store.silences(ending_after=now) if s.active(now)]
        if not active:
            return False
        incident = self.store.incident(message.incident_id)
        silence = silencing(active, incident, now)
        if silence is None:
            return False
        with self.store.transaction():
            self.store.mark_silenced(message.id, silence.id)
            noted = any(
                e.kind == "silenced" and e.detail.get("silence") == silence.id for e in self.store.timeline(incident.id)
            )
            if not noted:
                self.store.add_timeline(incident.id, now, SYSTEM, "silenced", timeline_detail(silence))
        return True


def timeline_detail(silence: Silence) -> dict[str, Any]:
    return {
        "silence": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "author": silence.author,
        "comment": silence.comment,
        "until": silence.ends_at.isoformat(),
    }
