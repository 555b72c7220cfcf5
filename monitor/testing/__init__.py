"""Test doubles for crisismon and for users testing their own rules and plugins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from monitor.models import FetchResult, Item, Message, Receipt
from monitor.protocols import DeliveryError
from monitor.testing.fakeslack import FakeSlackServer

__all__ = ["FakeClock", "FakeScorer", "FakeSilences", "FakeSlackServer", "FakeSource", "RecordingNotifier"]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 20, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class FakeSource:
    """Yields the items whose ``published_at`` is not after ``now``, each once per poll.

    ``fail_with`` makes the next polls report an error instead.
    """

    def __init__(self, name: str, items: Sequence[Item] = ()) -> None:
        self.name = name
        self.items = list(items)
        self.fail_with: str | None = None
        self.polls = 0

    def add(self, *items: Item) -> None:
        self.items.extend(items)

    def fetch(self, now: datetime) -> FetchResult:
        self.polls += 1
        if self.fail_with:
            return FetchResult(errors=[self.fail_with])
        return FetchResult(items=[i for i in self.items if i.published_at <= now])


class FakeScorer:
    """Scores by keyword: texts containing a negative word score ``low``, others ``high``."""

    NEGATIVE = ("差", "坏", "烂", "投诉", "冒烟", "起火", "退款", "愤怒", "垃圾", "召回")

    def __init__(self, low: float = 0.05, high: float = 0.9, rule: Callable[[str], float | None] | None = None) -> None:
        self.low, self.high, self.rule = low, high, rule
        self.calls: list[list[str]] = []

    def score(self, texts: Sequence[str]) -> list[float | None]:
        self.calls.append(list(texts))
        if self.rule is not None:
            return [self.rule(t) for t in texts]
        return [self.low if any(w in t for w in self.NEGATIVE) else self.high for t in texts]


class RecordingNotifier:
    """Records every delivery; ``fail_next(n)`` makes the next n deliveries fail."""

    def __init__(self, destination: str = "console") -> None:
        self.destination = destination
        self.delivered: list[tuple[Message, str | None, str | None]] = []
        self._failures: list[DeliveryError] = []

    def fail_next(self, n: int = 1, *, reason: str = "simulated outage", retry_after: float | None = None) -> None:
        self._failures.extend(DeliveryError(reason, retry_after=retry_after) for _ in range(n))

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        if self._failures:
            raise self._failures.pop(0)
        self.delivered.append((message, thread_ref, update_ref))
        return Receipt(ref=f"ref-{message.id}")

    def kinds(self) -> list[str]:
        return [m.kind for m, _, _ in self.delivered]


class FakeSilences:
    """In-memory :class:`monitor.slack.app.Silences` for tests of ``/crisis silence``.

    ``create`` takes ``key=value`` matchers, then a duration (``2h``), then a comment; a
    text without a matcher or a duration raises ``ValueError`` naming what is missing.
    """

    def __init__(self) -> None:
        self.created: list[tuple[str, str, str, datetime, datetime]] = []  # id, text, author, start, end
        self.expired: dict[str, tuple[str, datetime]] = {}

    def create(self, text: str, author: str, now: datetime) -> str:
        from monitor.config.durations import parse_duration

        words = text.split()
        matchers = [w for w in words if "=" in w]
        rest = [w for w in words if "=" not in w]
        if not matchers or not rest:
            raise ValueError("write matchers, then a duration, then a comment: rule=spike 2h product launch")
        end = now + parse_duration(rest[0])
        silence_id = str(len(self.created) + 1)
        self.created.append((silence_id, text, author, now, end))
        return f"{silence_id}: {' '.join(matchers)} until {end:%Y-%m-%d %H:%M} by {author}: {' '.join(rest[1:])}"

    def expire(self, silence_id: str, author: str, now: datetime) -> str:
        if silence_id not in {c[0] for c in self.created} or silence_id in self.expired:
            raise ValueError(f"no active silence {silence_id!r}; see /crisis silence list")
        self.expired[silence_id] = (author, now)
        return f"{silence_id} (by {author})"

    def active(self, now: datetime) -> list[str]:
        return [
            f"{sid}: {text} (by {author}, until {end:%Y-%m-%d %H:%M})"
            for sid, text, author, start, end in self.created
            if start <= now < end and sid not in self.expired
        ]
