"""APScheduler wiring: a job per source, one for evaluation, one for delivery.

Every daemon on a shared database schedules every job; the engine's leases decide which
daemon does each piece of work (``monitor.leases``), and a heartbeat job keeps this
daemon in the live set.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from monitor.engine import Engine
from monitor.leases import PERIODS

log = logging.getLogger(__name__)


def _guard(name: str, job: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # never let one job's bug stop the scheduler
            log.exception("job %s failed; it runs again at its next interval", name)

    return run


def build_scheduler(
    engine: Engine,
    *,
    poll_intervals: Mapping[str, timedelta],
    evaluate_every: timedelta,
    deliver_every: timedelta,
    sla_every: timedelta = timedelta(minutes=1),
    jitter: float = 0.1,
    extra_jobs: Mapping[str, tuple[Callable[[], Any], timedelta]] | None = None,
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
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
) -> None:
    """Poll everything once, start, then run until SIGINT/SIGTERM or ``stop``.

    SIGHUP calls ``on_hangup`` (reload) from this thread, not from the signal handler.
    """
    hangup = threading.Event()
    install_signal_handlers(stop, hangup)
    first_poll()
    scheduler.start()
    try:
        while not stop.wait(0.5):
            if hangup.is_set():
                hangup.clear()
                if on_hangup is not None:
                    _guard("reload", on_hangup)()
    finally:
        log.info("shutting down: waiting for running jobs")
        scheduler.shutdown(wait=True)


def install_signal_handlers(stop: threading.Event, hangup: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        (hangup if signum == signal.SIGHUP else stop).set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
