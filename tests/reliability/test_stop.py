"""Stopping is bounded (issue 13, point 2): a stuck job does not hold the daemon, a lost database ends it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from monitor.app import build_engine
from monitor.config.loading import Definitions
from monitor.config.rules import RuleSet
from monitor.config.settings import AppConfig
from monitor.runtime.scheduler import Running, Stopped, build_scheduler, run_until_stopped
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer


def scheduler_with(store: SqlStore, job: object, running: Running) -> object:
    engine = build_engine(
        AppConfig(), Definitions(RuleSet([]), {}), store, FakeClock(), scorer=FakeScorer(), sources={}, notifiers={}
    ).engine
    return build_scheduler(
        engine,
        poll_intervals={},
        evaluate_every=timedelta(hours=1),
        deliver_every=timedelta(hours=1),
        running=running,
    )


def run(store: SqlStore, first: object, *, stop_after: float | None, give_up: object = None) -> tuple[Stopped, float]:
    running = Running()
    scheduler = scheduler_with(store, first, running)
    stop = threading.Event()
    if stop_after is not None:
        threading.Timer(stop_after, stop.set).start()
    started = time.monotonic()
    stopped = run_until_stopped(
        scheduler,  # type: ignore[arg-type]
        stop,
        first_poll=first,  # type: ignore[arg-type]
        give_up=give_up,  # type: ignore[arg-type]
        running=running,
        grace=0.5,
    )
    return stopped, time.monotonic() - started


def test_a_job_stuck_on_a_peer_does_not_hold_the_stop(store: SqlStore) -> None:
    release = threading.Event()
    try:
        stopped, seconds = run(store, lambda: release.wait(30), stop_after=0.2)
    finally:
        release.set()
    assert stopped == Stopped(clean=False, failure=None, still_running=("first cycle",))
    assert seconds < 2.0


def test_jobs_that_end_in_time_give_a_clean_stop(store: SqlStore) -> None:
    stopped, seconds = run(store, lambda: time.sleep(0.1), stop_after=0.2)
    assert stopped.clean and stopped.failure is None and seconds < 2.0


def test_start_up_does_not_wait_for_the_first_cycle(store: SqlStore) -> None:
    """The first cycle runs in the scheduler: the main loop is already watching for signals."""
    began = threading.Event()
    release = threading.Event()

    def first() -> None:
        began.set()
        release.wait(30)

    try:
        stopped, seconds = run(store, first, stop_after=0.3)
    finally:
        release.set()
    assert began.is_set() and seconds < 2.0 and not stopped.clean


def test_give_up_ends_the_run_as_a_failure(store: SqlStore) -> None:
    calls = []

    def give_up() -> str | None:
        calls.append(1)
        return "the database has been unavailable for 300s" if len(calls) >= 2 else None

    stopped, _ = run(store, lambda: None, stop_after=None, give_up=give_up)
    assert stopped.clean and stopped.failure == "the database has been unavailable for 300s"


def test_one_retry_after_parser_and_one_backoff_for_sources_and_delivery() -> None:
    """Issue 11, point 6: the outbox and the sources share monitor.http.retry."""
    from datetime import UTC, datetime

    from monitor.http.retry import exponential, parse_retry_after
    from monitor.runtime.outbox import backoff
    from monitor.sources.http import Backoff

    now = datetime(2026, 10, 21, 7, 27, tzinfo=UTC)
    assert parse_retry_after("120") == 120 and parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now) == 60
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None  # no clock, no date
    assert [parse_retry_after(v) for v in ("-1", "nan", "inf", "soon", "9" * 100, None)] == [None] * 6
    assert exponential(5, 0, 300) == 5 and exponential(5, 3, 300) == 40 and exponential(5, 10**6, 300) == 300
    assert backoff(1) == timedelta(seconds=5) and backoff(100) == timedelta(minutes=5)
    import random

    assert Backoff(jitter=0).delay(3, timedelta(minutes=1), random.Random(0)) == timedelta(minutes=8)
