"""``/readyz``: is this daemon doing its job? Each check names what is wrong.

Ready means: the database answers, the scheduler runs, no source is down for longer than
its ``expected_silence`` (or silent past it), and the outbox is not stuck (its oldest
waiting message is younger than ``OUTBOX_STUCK``). Checks are plain functions of ``now``
kept in :attr:`Readiness.checks`, so another check (or a better database probe) plugs in
by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.clock import Clock
from monitor.runtime.health import DOWN_STATES, SourceMonitor, SourceStatus
from monitor.runtime.metrics import Metrics, SourceGauge, StoreCollector

log = logging.getLogger(__name__)

OUTBOX_STUCK = timedelta(minutes=15)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


CheckFn = Callable[[datetime], Check]


class Readiness:
    def __init__(
        self,
        store: Any,
        clock: Clock,
        sources: Callable[[datetime], Sequence[SourceStatus]] | None = None,
        *,
        outbox_stuck: timedelta = OUTBOX_STUCK,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sources = sources
        self.outbox_stuck = outbox_stuck
        self.scheduler_running: Callable[[], bool] | None = None  # set once the scheduler exists
        self.checks: dict[str, CheckFn] = {
            "database": self.database,
            "scheduler": self.scheduler,
            "sources": self.source_check,
            "outbox": self.outbox,
        }

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(ready, JSON body): every check's verdict, and the problems in one list."""
        now = self.clock.now()
        results: dict[str, Check] = {}
        for name, check in self.checks.items():
            try:
                results[name] = check(now)
            except Exception as exc:  # a check that breaks is a failed check, not a 500
                log.exception("readiness check %s failed", name)
                results[name] = Check(False, f"the check failed: {type(exc).__name__}: {exc}")
        ready = all(r.ok for r in results.values())
        body = {
            "status": "ready" if ready else "not ready",
            "time": now.isoformat(),
            "checks": {name: {"ok": r.ok, "detail": r.detail} for name, r in results.items()},
            "problems": [f"{name}: {r.detail}" for name, r in results.items() if not r.ok],
        }
        return ready, body

    def database(self, now: datetime) -> Check:
        ping = getattr(self.store, "ping", None)  # the SQL store: a probe, and whether writes keep failing
        try:
            problem = ping() if ping is not None else None
            if problem is not None:
                return Check(False, problem)
            version = self.store.schema_version()
        except Exception as exc:
            return Check(False, f"the database does not answer: {type(exc).__name__}: {exc}")
        return Check(True, f"schema version {version}")

    def scheduler(self, now: datetime) -> Check:
        if self.scheduler_running is None:
            return Check(False, "the scheduler has not started yet")
        if not self.scheduler_running():
            return Check(False, "the scheduler is not running")
        return Check(True, "running")

    def source_check(self, now: datetime) -> Check:
        if self.sources is None:
            return Check(True, "no sources watched")
        statuses = list(self.sources(now))
        bad = [f"{s.name} is {s.state}: {s.reason}" for s in statuses if down_too_long(s, now)]
        if bad:
            return Check(False, "; ".join(bad))
        return Check(True, f"{len(statuses)} source(s) polling")

    def outbox(self, now: datetime) -> Check:
        oldest = self.store.oldest_pending_message()
        if oldest is not None and now - oldest > self.outbox_stuck:
            waited = int((now - oldest).total_seconds() // 60)
            return Check(False, f"the oldest waiting message was queued {waited} min ago (limit {self.outbox_stuck})")
        return Check(True, "moving")


def down_too_long(status: SourceStatus, now: datetime) -> bool:
    """Silent (already past its silence), or down for longer than its expected silence."""
    if status.state == "silent":
        return True
    if status.state != "down":
        return False
    if status.expected_silence is None:
        return True
    health = status.health
    since = health.last_success if health and health.last_success else None
    return since is None or now - since > status.expected_silence


def source_gauges(monitor: SourceMonitor | None) -> Callable[[datetime], list[SourceGauge]]:
    def gauges(now: datetime) -> list[SourceGauge]:
        if monitor is None:
            return []
        return [
            SourceGauge(s.name, s.state not in DOWN_STATES, s.health.last_success if s.health else None)
            for s in monitor.statuses(now)
        ]

    return gauges


def watch_daemon(api: Any, store: Any, clock: Clock, metrics: Metrics, monitor: SourceMonitor | None) -> Readiness:
    """Give the API its readiness checks and the metrics their store gauges."""
    readiness = Readiness(store, clock, monitor.statuses if monitor else None)
    api.readiness = readiness
    metrics.watch(StoreCollector(store, clock, source_gauges(monitor)))
    return readiness
