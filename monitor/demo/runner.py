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
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, ComplaintsApiSource, HttpConfig, RsshubSource, RssSource, ScoringConfig
from monitor.demo.delivery import report, wait_for_delivery
from monitor.demo.scenario import build_timeline
from monitor.demo.server import WEIBO_ROUTE, ScenarioServer
from monitor.runtime.scheduler import Running, build_scheduler, run_until_stopped
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


def run_demo(
    *,
    keep_running: bool,
    db: str | None,
    speed: float,
    timeout: float,
    console: str | None = None,
    wait: float = 60.0,
) -> int:
    """``console``: host:port to serve the web console (read-only) on while the demo runs.
    ``wait``: real seconds to wait, once the incident opened, until its alert and checklist
    reached every destination (Slack: retries and Retry-After included)."""
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
                return _run(wiring, config, store, clock, keep_running=keep_running, timeout=timeout, wait=wait)
            finally:
                wiring.close()
                store.close()


def _run(
    wiring: Wiring,
    config: AppConfig,
    store: SqlStore,
    clock: AcceleratedClock,
    *,
    keep_running: bool,
    timeout: float,
    wait: float,
) -> int:
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
    watch = Watch(store, clock, list(engine.dispatcher.notifiers), keep_running, timeout, wait)
    watcher = threading.Thread(target=watch, args=(stop, outcome), daemon=True)
    watcher.start()
    run_until_stopped(scheduler, stop, first_poll=engine.cycle, on_stop=wiring.abort, running=running)
    return outcome.get("code", 0)


class Watch:
    """Waits for the product-quality incident, then (bounded by ``wait``) for its alert and
    checklist to reach every destination, and says what was delivered where."""

    def __init__(
        self,
        store: SqlStore,
        clock: AcceleratedClock,
        destinations: list[str],
        keep_running: bool,
        timeout: float,
        wait: float,
    ) -> None:
        self.store = store
        self.clock = clock
        self.destinations = destinations
        self.keep_running = keep_running
        self.timeout = timeout
        self.wait = wait

    def __call__(self, stop: threading.Event, outcome: dict[str, int]) -> None:
        incident_id = self._incident(stop)
        if incident_id is None:
            if not stop.is_set():
                print(f"demo: no {PLAYBOOK} incident within {self.timeout:g}s; see the log above", file=sys.stderr)
                outcome["code"] = 1
            stop.set()
            return
        remote = [d for d in self.destinations if d != "console"]
        if remote:  # real seconds from here: retries and Retry-After mean what they say
            self.clock.set_speed(1.0)
            print(f"demo: incident #{incident_id} opened; waiting up to {self.wait:g}s for {', '.join(remote)}")
        found = wait_for_delivery(lambda: self.store.deliveries(incident_id), self.destinations, self.wait, stop)
        ok, lines = report(found, self.destinations, self.clock.now())
        for line in lines:
            print(f"demo: {line}", flush=True)
        if ok:
            print(f"demo: incident opened with the {PLAYBOOK} playbook; alert and checklist delivered", flush=True)
        else:
            print("demo: the alert or checklist did not reach every destination (above)", file=sys.stderr, flush=True)
        outcome["code"] = 0 if ok else 1
        if not self.keep_running or not ok:
            stop.set()

    def _incident(self, stop: threading.Event) -> int | None:
        deadline = monotonic() + self.timeout
        while not stop.wait(0.25):
            found = [i.id for i in self.store.incidents() if i.playbook == PLAYBOOK]
            if found:
                return found[0]
            if monotonic() > deadline:
                return None
        return None
