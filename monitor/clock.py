"""The only module that reads the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class AcceleratedClock:
    """Simulated time that runs ``speed`` times faster than the wall clock.

    Starts at ``start`` (defaults to the wall clock now). Used by the demo to replay days of
    a scenario in seconds.
    """

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        self.speed = speed
        self._origin_wall = time.monotonic()
        self._origin = start or datetime.now(UTC)

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin_wall) * self.speed
        return self._origin + timedelta(seconds=elapsed)

    def set_speed(self, speed: float) -> None:
        """Run at ``speed`` from now on (time stays continuous): the demo drops to 1x while it
        waits for Slack, so that retries and Retry-After are real seconds."""
        self._origin = self.now()
        self._origin_wall = time.monotonic()
        self.speed = speed


def monotonic() -> float:
    """Monotonic seconds, for measuring durations (benchmarks, backoff)."""
    return time.monotonic()
