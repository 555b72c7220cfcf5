"""APScheduler wiring: a job per source, one for evaluation, one for delivery.

Every daemon on a shared database schedules every job; the engine's leases decide which
daemon does each piece of work (``monitor.runtime.leases``), and a heartbeat job keeps this
daemon in the live set.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.runtime.engine import Engine
from monitor.runtime.leases import PERIODS
from monitor.store import DatabaseUnavailable

log = logging.getLogger(__name__)


STOP_GRACE = 8.0  # seconds the running jobs get after SIGTERM before the daemon exits anyway


class Running:
    """The jobs running now, so that a stop can wait for them, but only so long."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._idle = threading.Condition()

    def begin(self, name: str) -> None:
        with self._idle:
            self._names.append(name)

    def end(self, name: str) -> None:
        with self._idle:
            self._names.remove(name)
            self._idle.notify_all()

    def now(self) -> list[str]:
        with self._idle:
            return list(self._names)

    def wait_idle(self, seconds: float) -> bool:
        """True when no job is running within ``seconds``."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._names, timeout=seconds)


def guarded(name: str, job: Callable[[], Any], running: Running | None = None) -> Callable[[], None]:
    def run() -> None:
        if running is not None:
            running.begin(name)
        try:
            job()
        except DatabaseUnavailable as exc:  # one line: the database is named and the job runs again
            log.warning("job %s: %s; it runs again at its next interval", name, exc)
        except Exception:  # never let one job's bug stop the scheduler
            log.exception("job %s failed; it runs again at its next interval", name)
        finally:
            if running is not None:
                running.end(name)

    return run


@dataclass(frozen=True)
class Stopped:
    """How ``run_until_stopped`` ended: ``clean`` when no job was left running; ``failure``
    says why the daemon gave up (exit 1), None after a stop that was asked for."""

    clean: bool
    failure: str | None = None
    still_running: tuple[str, ...] = ()


def build_scheduler(
    engine: Engine,
    *,
    poll_intervals: Mapping[str, timedelta],
    evaluate_every: timedelta,
    deliver_every: timedelta,
    sla_every: timedelta = timedelta(minutes=1),
    jitter: float = 0.1,
    extra_jobs: Mapping[str, tuple[Callable[[], Any], timedelta]] | None = None,
    running: Running | None = None,
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})

    def _guard(name: str, job: Callable[[], Any]) -> Callable[[], None]:
        return guarded(name, job, running)

    for name, interval in poll_intervals.items():
        seconds = interval.total_seconds()
        scheduler.add_job(
            _guard(f"poll:{name}", functools.partial(engine.poll, name)),
            "interval",
            seconds=seconds,
            jitter=max(seconds * jitter, 0) or None,
            id=f"poll:{name}",
        )
    scheduler.add_job(
        _guard("evaluate", engine.evaluate), "interval", seconds=evaluate_every.total_seconds(), id="evaluate"
    )
    scheduler.add_job(_guard("sla", engine.check_sla), "interval", seconds=sla_every.total_seconds(), id="sla")
    scheduler.add_job(
        _guard("deliver", engine.deliver), "interval", seconds=deliver_every.total_seconds(), id="deliver"
    )
    if engine.leases is not None:
        every = engine.leases.times.node_ttl() / PERIODS
        scheduler.add_job(
            _guard("heartbeat", engine.heartbeat), "interval", seconds=every.total_seconds(), id="heartbeat"
        )
    for name, (job, every) in (extra_jobs or {}).items():
        scheduler.add_job(_guard(name, job), "interval", seconds=every.total_seconds(), id=name)
    return scheduler


def run_until_stopped(
    scheduler: BackgroundScheduler,
    stop: threading.Event,
    *,
    first_poll: Callable[[], None],
    on_hangup: Callable[[], Any] | None = None,
    on_stop: Callable[[], Any] | None = None,
    give_up: Callable[[], str | None] | None = None,
    running: Running | None = None,
    grace: float = STOP_GRACE,
) -> Stopped:
    """Start, run the first cycle as a job, then run until SIGINT/SIGTERM, ``stop`` or ``give_up``.

    Start-up never waits on a source: the first poll of everything (``first_poll``) runs in
    the scheduler, beside delivery and the API. SIGHUP calls ``on_hangup`` (reload) from this
    thread. ``give_up`` is asked every half second; a reason it returns ends the run as a
    failure. On the way out ``on_stop`` runs first (it aborts requests in flight), then the
    running jobs get ``grace`` seconds to finish.
    """
    hangup = threading.Event()
    install_signal_handlers(stop, hangup)
    scheduler.start()
    scheduler.add_job(guarded("first cycle", first_poll, running), id="first-cycle")  # no trigger: now, once
    failure: str | None = None
    try:
        while not stop.wait(0.5):
            if hangup.is_set():
                hangup.clear()
                if on_hangup is not None:
                    guarded("reload", on_hangup)()
            if give_up is not None and (failure := give_up()) is not None:
                log.error("%s", failure)
                break
    finally:
        log.info("shutting down: waiting up to %gs for running jobs", grace)
        if on_stop is not None:
            guarded("stop", on_stop)()
        scheduler.shutdown(wait=False)
    clean = running.wait_idle(grace) if running is not None else True
    return Stopped(clean, failure, tuple(running.now()) if running is not None else ())


def install_signal_handlers(stop: threading.Event, hangup: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        (hangup if signum == signal.SIGHUP else stop).set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
