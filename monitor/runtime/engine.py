"""One cycle of work at a time: poll a source, evaluate the rules, deliver the outbox.

The scheduler calls these; tests and the demo call them directly. Each step reads the
time from the injected clock once and never raises for bad input.

With a ``LeaseKeeper`` (the daemon), each step does only the work this daemon holds the
lease for: ``source:NAME`` to poll a source, ``rule:ID`` to evaluate a rule (leases are per
rule, so the rules of one group spread over the daemons too), ``sla`` for the SLA timers,
``deliver:DESTINATION`` to deliver (see ``monitor.runtime.outbox``). Without one, it does all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from monitor.clock import Clock, monotonic
from monitor.config.current import CurrentDefinitions
from monitor.config.loading import Definitions
from monitor.config.roster import Roster
from monitor.config.settings import AppConfig
from monitor.detect.evaluator import Evaluator
from monitor.incidents.service import IncidentService
from monitor.incidents.sla import SlaWatch
from monitor.models import FetchResult, Signal
from monitor.protocols import Source
from monitor.runtime.health import PollBook
from monitor.runtime.ingest import Ingestor
from monitor.runtime.leases import LeaseKeeper
from monitor.runtime.metrics import Metrics
from monitor.runtime.outbox import Dispatcher
from monitor.runtime.overrun import OverrunWatch
from monitor.store import DatabaseUnavailable

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        *,
        clock: Clock,
        sources: Mapping[str, Source],
        ingestor: Ingestor,
        evaluator: Evaluator,
        incidents: IncidentService,
        dispatcher: Dispatcher,
        definitions: CurrentDefinitions | Definitions,
        metrics: Metrics,
        sla: SlaWatch,
        leases: LeaseKeeper | None = None,
        book: PollBook | None = None,
        evaluate_every: timedelta | None = None,
    ) -> None:
        self.clock = clock
        self.sources = dict(sources)
        self.ingestor = ingestor
        self.evaluator = evaluator
        self.incidents = incidents
        self.dispatcher = dispatcher
        # the one view of the definitions in force; a reload swaps it (swap_definitions)
        self.current = definitions if isinstance(definitions, CurrentDefinitions) else CurrentDefinitions(definitions)
        self.metrics = metrics
        self.sla = sla
        self.leases = leases
        self.book = book  # restore/backoff/after-poll bookkeeping of sources (monitor.runtime.health)
        self.overruns = OverrunWatch(metrics, evaluate_every)  # an evaluation longer than its interval
        self._eval_lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._poll_locks = {name: threading.Lock() for name in self.sources}

    def poll(self, name: str, *, force: bool = False) -> int:
        """Poll one source; problems are logged and counted, never raised.

        A source in backoff after failures is skipped (returns 0) unless ``force``, and so is
        a source whose previous poll is still running (the start-up cycle and its scheduled
        job may meet). Once the poll's items are stored, the book tells the source and saves
        its state. When the database fails meanwhile, the source's state is reloaded from the
        database before its next poll, so that what this poll fetched is fetched again.
        """
        lock = self._poll_locks.setdefault(name, threading.Lock())
        if not lock.acquire(blocking=False):
            log.info("source %s: the previous poll is still running; skipped", name)
            return 0
        try:
            return self._poll(name, force)
        finally:
            lock.release()

    def _poll(self, name: str, force: bool) -> int:
        now = self.clock.now()
        if not self._holds(f"source:{name}", now):
            return 0
        source = self.sources[name]
        if self.book is not None and not self.book.before(name, source, now, force=force):
            return 0
        started = monotonic()
        try:
            result = source.fetch(now)
        except Exception as exc:  # a source bug must not stop the daemon
            log.exception("source %s failed unexpectedly", name)
            result = FetchResult(errors=[f"unexpected {type(exc).__name__}: {exc}"])
        failed = bool(result.errors) and not result.items and not result.not_modified
        self.metrics.observe_poll(name, monotonic() - started, failed=failed)
        try:
            added = self.ingestor.ingest(name, result, now)
            if self.book is not None:
                self.book.after(name, source, added, now)
        except DatabaseUnavailable:
            if self.book is not None:
                self.book.forget(name)  # its cursor or validators may have moved past unsaved items
            raise
        return added

    def evaluate(self) -> list[Signal]:
        """Evaluate the rules held here; each rule with its incidents and messages is one transaction,
        so that a database lost midway leaves that rule as it was for the next run (nothing half-done)."""
        with self._eval_lock:
            now = self.clock.now()
            rules = [r for r in self.definitions.rules.rules if self._holds(f"rule:{r.id}", now)]
            down = self.evaluator.sources_down(now)
            signals: list[Signal] = []
            cycle = self.overruns.start()
            with cycle.preparing():
                rules = self.evaluator.prepare(rules, now)  # less the rules being rebuilt
            for rule in rules:
                with self.evaluator.store.transaction(), cycle.rule(rule.id):
                    found = self.evaluator.evaluate_timed(rule, now, down)
                    for signal in found:
                        self.incidents.handle(signal, rule, now)
                signals.extend(found)
            self.evaluator.finish(now)
            cycle.finish()
            return signals

    def check_sla(self) -> int:
        """Escalate unacknowledged incidents and remind owners of overdue items."""
        with self._eval_lock:
            now = self.clock.now()
            return self.sla.run(now) if self._holds("sla", now) else 0

    def deliver(self) -> int:
        with self._deliver_lock:
            return self.dispatcher.deliver_due(self.clock.now())

    def heartbeat(self) -> None:
        """Tell the other daemons this one is alive (and learn which are)."""
        if self.leases is not None:
            self.leases.heartbeat(self.clock.now())

    def _holds(self, lease: str, now: datetime) -> bool:
        return self.leases is None or self.leases.acquire(lease, now)

    def cycle(self) -> None:
        """Poll every source (backoff or not), evaluate, deliver (tests, the demo, `--once`, start-up)."""
        for name in self.sources:
            self.poll(name, force=True)
        self.evaluate()
        self.check_sla()
        self.deliver()

    def rules_fed_by(self, source: str) -> list[str]:
        """Ids of the rules that read ``source`` (a rule naming no sources reads them all)."""
        rules = self.definitions.rules.rules
        return [r.id for r in rules if not r.all_sources() or source in r.all_sources()]

    @property
    def definitions(self) -> Definitions:
        return self.current.definitions

    def swap_definitions(
        self, definitions: Definitions, *, roster: Roster | None = None, config: AppConfig | None = None
    ) -> None:
        """Swap the current view (between two evaluations): every component reads it."""
        with self._eval_lock:
            self.current.swap(definitions, roster=roster, config=config)
