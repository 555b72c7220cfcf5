"""`crisismon demo`: the real pipeline against a local replay of a product-quality crisis."""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from monitor.app import Wiring, build_api, build_engine
from monitor.clock import AcceleratedClock, monotonic
from monitor.config import AppConfig, ComplaintsApiSource, HttpConfig, RsshubSource, RssSource, ScoringConfig
from monitor.demo.scenario import build_timeline
from monitor.demo.server import WEIBO_ROUTE, ScenarioServer
from monitor.loading import load_definitions
from monitor.scheduler import Running, build_scheduler, run_until_stopped
from monitor.store import SqlStore, open_store

log = logging.getLogger(__name__)
PLAYBOOK = "product_quality"
POLL = timedelta(seconds=1)


def demo_config(base_url: str, database: str) -> AppConfig:
    return AppConfig(
        database=database,
        sources=(
            ComplaintsApiSource(
                type="complaints_api", name="complaints", url=f"{base_url}/api/complaints", interval=POLL
            ),
            RssSource(type="rss", name="news", url=f"{base_url}/news/rss.xml", interval=POLL),
            RsshubSource(type="rsshub", name="weibo", instance=base_url, route=WEIBO_ROUTE, interval=POLL),
        ),
        scoring=ScoringConfig(workers=0),
        evaluate_every=timedelta(seconds=1),
        deliver_every=timedelta(milliseconds=500),
    )


def run_demo(*, keep_running: bool, db: str | None, speed: float, timeout: float, console: str | None = None) -> int:
    """``console``: host:port to serve the web console (read-only) on while the demo runs."""
    with tempfile.TemporaryDirectory(prefix="crisismon-demo-") as tmp:
        database = db or str(Path(tmp) / "demo.db")
        clock = AcceleratedClock(speed)
        with ScenarioServer(build_timeline(clock.now()), clock) as server:
            config = demo_config(server.base_url, database)
            if console:
                config = config.model_copy(update={"http": HttpConfig(listen=console)})
            definitions = load_definitions(config)
            store = open_store(database)
            wiring = build_engine(config, definitions, store, clock)
            if console:
                api = build_api(config, wiring, store, clock, {})
                print(f"demo: the console is on {api.url}/", flush=True)
            print(
                f"demo: replaying 3 calm days and a product-quality surge at {speed:g}x "
                f"from {server.base_url} (database {database})",
                flush=True,
            )
            try:
                return _run(wiring, config, store, keep_running=keep_running, timeout=timeout)
            finally:
                wiring.close()
                store.close()


def _run(wiring: Wiring, config: AppConfig, store: SqlStore, *, keep_running: bool, timeout: float) -> int:
    engine = wiring.engine
    running = Running()
    scheduler = build_scheduler(
        engine,
        poll_intervals={s.name: s.interval for s in config.sources},
        evaluate_every=config.evaluate_every,
        deliver_every=config.deliver_every,
        running=running,
    )
    stop = threading.Event()
    outcome: dict[str, int] = {}
    watcher = threading.Thread(target=_watch, args=(store, stop, outcome, keep_running, timeout), daemon=True)
    watcher.start()
    run_until_stopped(scheduler, stop, first_poll=engine.cycle, on_stop=wiring.abort, running=running)
    return outcome.get("code", 0)


def _watch(store: SqlStore, stop: threading.Event, outcome: dict[str, int], keep_running: bool, timeout: float) -> None:
    deadline = monotonic() + timeout
    while not stop.wait(0.25):
        if incident_delivered(store):
            outcome["code"] = 0
            print(
                f"demo: incident opened with the {PLAYBOOK} playbook; alert and checklist delivered",
                flush=True,
            )
            if not keep_running:
                stop.set()
            return
        if monotonic() > deadline:
            outcome["code"] = 1
            print(
                f"demo: no {PLAYBOOK} incident within {timeout:g}s; see the log above",
                file=sys.stderr,
                flush=True,
            )
            stop.set()
            return


def incident_delivered(store: SqlStore) -> bool:
    """A product-quality incident is open and its alert and checklist went out."""
    for incident in store.incidents():
        if incident.playbook != PLAYBOOK:
            continue
        sent = {m.kind for m, status in store.messages(incident.id) if status == "sent"}
        if {"alert", "checklist"} <= sent:
            return True
    return False
