"""Source health: which sources are down, backoff after failures, "source down/up" messages.

Everything here is derived from the store's ``source_state`` (``record_fetch`` keeps last
success, last error, failures in a row) plus two markers this module keeps in each
source's data, section ``health``: ``first_polled_at`` and ``last_item_at`` (the last poll
that brought a new item). A source is

- **down** when ``failure_threshold`` polls in a row failed;
- **silent** when it brought no new item for its ``expected_silence``;
- **failing** when it failed fewer times in a row than that; else **ok**.

Down and silent sources are the ``down_sources``: rules fed by them never auto-resolve
(the evaluator holds them), and :meth:`SourceMonitor.check` announces each change once
(``source_down`` / ``source_up`` to every destination), remembering what it announced in
the store so a restart does not announce again.

:class:`PollBook` is the engine's per-poll bookkeeping: it restores a stateful source's
state before its first poll, skips polls during backoff, and after the poll's items are
stored tells the source (``stored``), saves its ``state()``, and updates the markers.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from monitor.clock import Clock
from monitor.incidents.announce import Enqueuer
from monitor.notify.render import Renderer, SlackRenderer
from monitor.sources.http import Backoff
from monitor.store import SourceHealth

log = logging.getLogger(__name__)


class HealthStore(Enqueuer, Protocol):
    """What source health and the poll book read and write, and where their notices are queued."""

    def items_fetched_since(self, since: datetime) -> dict[str, int]: ...

    def put_source_data(self, name: str, data: Mapping[str, Any]) -> None: ...

    def source_data(self, name: str) -> dict[str, Any]: ...

    def source_health(self) -> list[SourceHealth]: ...

    def source_health_of(self, name: str) -> SourceHealth | None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def update_source_data(self, name: str, section: str, changes: Mapping[str, Any]) -> dict[str, Any]: ...


FAILURE_THRESHOLD = 3
HEALTH_CHECK = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
SECTION = "health"  # this module's section of a source's data
SOURCE_SECTION = "source"  # the source's own state (cursor, validators)

State = Literal["new", "ok", "failing", "silent", "down"]
DOWN_STATES = ("silent", "down")


@runtime_checkable
class StatefulSource(Protocol):
    """A source whose state must survive a restart (a cursor): saved after each poll."""

    def state(self) -> Mapping[str, Any]: ...

    def restore(self, state: Mapping[str, Any]) -> None: ...


@runtime_checkable
class StoreAwareSource(Protocol):
    """A source that acts once its last fetch's items are stored (advance a cursor, move files)."""

    def stored(self, now: datetime) -> None: ...


# -- per-poll bookkeeping and backoff -------------------------------------------------------


class PollBook:
    """Restore, backoff, and after-poll bookkeeping for the engine's ``poll``.

    ``intervals``: each source's poll interval; a source without one gets no backoff.
    After ``n`` failures in a row the next poll waits ``interval * 2**n`` (capped at
    ``max_backoff``, never below the interval; a server's Retry-After is a floor); the
    scheduler keeps firing at the normal interval and the polls that come too early are
    skipped. ``tolerance`` (a fraction of the interval) absorbs the scheduler's jitter.
    """

    def __init__(
        self,
        store: HealthStore,
        intervals: Mapping[str, timedelta],
        *,
        max_backoff: timedelta = MAX_BACKOFF,
        tolerance: float = 0.1,
    ) -> None:
        self.store = store
        self.intervals = dict(intervals)
        self.backoff = Backoff(max_delay=max_backoff, jitter=0.0)
        self.tolerance = tolerance
        self._until: dict[str, datetime | None] = {}
        self._rng = random.Random(0)  # unused with jitter 0; Backoff wants one

    def before(self, name: str, source: object, now: datetime, *, force: bool = False) -> bool:
        """Restore state on first use; False when the poll must be skipped (backoff)."""
        if name not in self._until:
            data = self.store.source_data(name)
            if isinstance(source, StatefulSource):
                source.restore(dict(data.get(SOURCE_SECTION) or {}))
            self._until[name] = _parse(dict(data.get(SECTION) or {}).get("backoff_until"))
        until = self._until[name]
        if force or until is None or now >= until:
            return True
        log.debug("source %s: backing off until %s", name, until.isoformat())
        return False

    def forget(self, name: str) -> None:
        """Restore the source's saved state before its next poll: its last poll's state was not
        saved, or the source was replaced by a reload."""
        self._until.pop(name, None)

    def after(self, name: str, source: object, added: int, now: datetime) -> None:
        """The poll's items are stored: tell the source, save its state, update markers and backoff."""
        if isinstance(source, StoreAwareSource):
            try:
                source.stored(now)
            except OSError as exc:  # e.g. a file that cannot be moved: retried at the next poll
                log.error("source %s: after storing its items: %s", name, exc)
        until = self.next_poll(name, self.store.source_health_of(name), getattr(source, "retry_after", None))
        self._until[name] = until
        with self.store.transaction():
            data = self.store.source_data(name)
            marks = dict(data.get(SECTION) or {})
            changed = False
            if "first_polled_at" not in marks:
                marks["first_polled_at"] = now.isoformat()
                changed = True
            if added:
                marks["last_item_at"] = now.isoformat()
                changed = True
            if _parse(marks.get("backoff_until")) != until:
                if until is None:
                    marks.pop("backoff_until", None)
                else:
                    marks["backoff_until"] = until.isoformat()
                changed = True
            data[SECTION] = marks
            if isinstance(source, StatefulSource):
                state = dict(source.state())
                if state != data.get(SOURCE_SECTION, {}):
                    data[SOURCE_SECTION] = state
                    changed = True
            if changed:
                self.store.put_source_data(name, data)

    def next_poll(self, name: str, health: SourceHealth | None, retry_after: float | None) -> datetime | None:
        """When the next poll may run; None: at the normal interval."""
        interval = self.intervals.get(name)
        if interval is None or health is None or health.last_attempt is None:
            return None
        failures = health.consecutive_failures
        if failures == 0 and retry_after is None:
            return None
        delay = self.backoff.delay(failures, interval, self._rng) - interval * self.tolerance
        if retry_after is not None:  # the server's wish is a floor, without the jitter allowance
            delay = max(delay, timedelta(seconds=retry_after))
        return health.last_attempt + delay


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# -- health ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source's health at ``now``, for ``down_sources``, messages and `crisismon sources`."""

    name: str
    state: State
    reason: str  # why it is not ok; "" when it is
    health: SourceHealth | None
    expected_silence: timedelta | None
    last_item_at: datetime | None
    backoff_until: datetime | None
    announced_down: bool


def source_status(
    name: str,
    health: SourceHealth | None,
    data: Mapping[str, Any],
    expected_silence: timedelta | None,
    now: datetime,
    failure_threshold: int = FAILURE_THRESHOLD,
) -> SourceStatus:
    """Classify one source (pure: no store, no clock)."""
    marks = dict(data.get(SECTION) or {})
    last_item = _parse(marks.get("last_item_at"))
    since = last_item or _parse(marks.get("first_polled_at"))
    backoff = _parse(marks.get("backoff_until"))
    state, reason = _classify(health, since, last_item, expected_silence, now, failure_threshold)
    return SourceStatus(
        name=name,
        state=state,
        reason=reason,
        health=health,
        expected_silence=expected_silence,
        last_item_at=last_item,
        backoff_until=backoff if backoff and backoff > now else None,
        announced_down=bool(marks.get("down")),
    )


def _classify(
    health: SourceHealth | None,
    since: datetime | None,
    last_item: datetime | None,
    expected_silence: timedelta | None,
    now: datetime,
    threshold: int,
) -> tuple[State, str]:
    if health is None:
        return "new", "never polled"
    failures = health.consecutive_failures
    if failures >= threshold:
        return "down", f"{failures} failed polls in a row; last error: {health.last_error or '?'}"
    if expected_silence is not None and since is not None and now - since >= expected_silence:
        what = f"since {last_item:%Y-%m-%d %H:%M} UTC" if last_item else "since its first poll"
        return "silent", f"no new item {what} (expected within {_span(expected_silence)})"
    if failures:
        return "failing", f"{failures} failed poll(s) in a row; last error: {health.last_error or '?'}"
    return "ok", ""


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class SourceMonitor:
    """Which watched sources are down, and the job that announces changes.

    ``watched``: source name -> its ``expected_silence`` (None: never silent).
    ``renderers``: the destinations to tell (Slack ones get Block Kit).
    ``rules_for``: the rule ids fed by a source (named in the "down" message).
    """

    def __init__(
        self,
        store: HealthStore,
        watched: Mapping[str, timedelta | None],
        clock: Clock,
        renderers: Mapping[str, Renderer],
        *,
        failure_threshold: int = FAILURE_THRESHOLD,
        rules_for: Callable[[str], Sequence[str]] | None = None,
        gate: Callable[[datetime], bool] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1 (got {failure_threshold})")
        self.store = store
        self.watched = dict(watched)
        self.clock = clock
        self.renderers = renderers
        self.failure_threshold = failure_threshold
        self.rules_for = rules_for
        self.gate = gate  # with several daemons: only the one holding the "health" lease announces

    def statuses(self, now: datetime) -> list[SourceStatus]:
        healths = {h.name: h for h in self.store.source_health()}
        return [
            source_status(name, healths.get(name), self.store.source_data(name), silence, now, self.failure_threshold)
            for name, silence in sorted(self.watched.items())
        ]

    def down_sources(self, now: datetime) -> set[str]:
        return {s.name for s in self.statuses(now) if s.state in DOWN_STATES}

    def down_sources_now(self, now: datetime | None = None) -> set[str]:
        """For the evaluator, which passes the time of its step (the clock only when asked without one)."""
        return self.down_sources(self.clock.now() if now is None else now)

    def check_now(self) -> int:
        """The scheduler's job."""
        now = self.clock.now()
        if self.gate is not None and not self.gate(now):
            return 0
        return self.check(now)

    def check(self, now: datetime) -> int:
        """Announce every source that went down or came back since the last check; return how many."""
        changed = 0
        for status in self.statuses(now):
            is_down = status.state in DOWN_STATES
            if is_down == status.announced_down:
                continue
            marks: dict[str, Any]
            with self.store.transaction():
                if is_down:
                    self._tell("source_down", self._down_text(status), now)
                    marks = {"down": status.state, "down_since": now.isoformat(), "down_reason": status.reason}
                else:
                    self._tell("source_up", self._up_text(status, now), now)
                    marks = {"down": None, "down_since": None, "down_reason": None}
                self.store.update_source_data(status.name, SECTION, marks)
            log.warning("source %s is %s: %s", status.name, status.state, status.reason or "back")
            changed += 1
        return changed

    def _down_text(self, status: SourceStatus) -> str:
        rules = list(self.rules_for(status.name)) if self.rules_for else []
        held = f" Rules fed by it will not auto-resolve until it is back: {', '.join(rules)}." if rules else ""
        word = "silent" if status.state == "silent" else "down"
        return f"⚠️ Source {status.name} is {word}: {status.reason}.{held}"

    def _up_text(self, status: SourceStatus, now: datetime) -> str:
        marks = dict(self.store.source_data(status.name).get(SECTION) or {})
        since = _parse(marks.get("down_since"))
        was = f" (down for {_span(_minutes(now - since))})" if since else ""
        return f"✅ Source {status.name} is back{was}; its rules resolve normally again."

    def _tell(self, kind: str, text: str, now: datetime) -> None:
        for destination, renderer in self.renderers.items():
            self.store.enqueue(destination, kind, payload(renderer, text), now=now)


def _minutes(delta: timedelta) -> timedelta:
    return timedelta(minutes=max(1, round(delta.total_seconds() / 60)))


def payload(renderer: Renderer, text: str) -> dict[str, Any]:
    """Plain text for the console; mrkdwn-escaped text in a section for Slack."""
    if isinstance(renderer, SlackRenderer):
        from monitor.slack.blocks import escape, section

        safe = escape(text)
        return {"text": safe, "blocks": [section(safe)]}
    return {"text": text}


# -- the `crisismon sources` table -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One row of `crisismon sources`."""

    type: str  # from the config; "-" for a source no longer configured (or the HTTP intake)
    status: SourceStatus
    items_24h: int

    def to_json(self) -> dict[str, Any]:
        h = self.status.health
        when = _iso
        return {
            "name": self.status.name,
            "type": self.type,
            "state": self.status.state,
            "reason": self.status.reason,
            "last_attempt": when(h.last_attempt if h else None),
            "last_success": when(h.last_success if h else None),
            "last_error": h.last_error if h else None,
            "last_error_at": when(h.last_error_at if h else None),
            "consecutive_failures": h.consecutive_failures if h else 0,
            "total_failures": h.total_failures if h else 0,
            "items_total": h.items_total if h else 0,
            "items_24h": self.items_24h,
            "last_item_at": when(self.status.last_item_at),
            "expected_silence": self.status.expected_silence.total_seconds() if self.status.expected_silence else None,
            "backoff_until": when(self.status.backoff_until),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def source_lines(
    store: HealthStore,
    configured: Mapping[str, tuple[str, timedelta | None]],
    now: datetime,
    failure_threshold: int = FAILURE_THRESHOLD,
) -> list[SourceLine]:
    """Every configured source, and every source the store knows (intake, removed ones).

    ``configured``: name -> (type, expected_silence).
    """
    healths = {h.name: h for h in store.source_health()}
    counts = store.items_fetched_since(now - timedelta(hours=24))
    lines = []
    for name in sorted(set(configured) | set(healths)):
        kind, silence = configured.get(name, ("-", None))
        status = source_status(name, healths.get(name), store.source_data(name), silence, now, failure_threshold)
        lines.append(SourceLine(kind, status, counts.get(name, 0)))
    return lines
