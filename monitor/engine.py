"""One cycle of work at a time: poll a source, evaluate the rules, deliver the outbox.

The scheduler calls these; tests and the demo call them directly. Each step reads the
time from the injected clock once and never raises for bad input.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from monitor.clock import Clock
from monitor.evaluator import Evaluator
from monitor.incidents import IncidentService
from monitor.ingest import Ingestor
from monitor.loading import Definitions
from monitor.metrics import Metrics
from monitor.models import FetchResult, Signal
from monitor.outbox import Dispatcher
from monitor.protocols import Source
from monitor.sla import SlaWatch

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
        definitions: Definitions,
        metrics: Metrics,
        sla: SlaWatch,
    ) -> None:
        self.clock = clock
        self.sources = dict(sources)
        self.ingestor = ingestor
        self.evaluator = evaluator
        self.incidents = incidents
        self.dispatcher = dispatcher
        self.definitions = definitions
        self.metrics = metrics
        self.sla = sla
        self._eval_lock = threading.Lock()
        self._deliver_lock = threading.Lock()

    def poll(self, name: str) -> int:
        """Poll one source; problems are logged and counted, never raised."""
        now = self.clock.now()
        try:
            result = self.sources[name].fetch(now)
        except Exception as exc:  # a source bug must not stop the daemon
            log.exception("source %s failed unexpectedly", name)
            result = FetchResult(errors=[f"unexpected {type(exc).__name__}: {exc}"])
        return self.ingestor.ingest(name, result, now)

    def evaluate(self) -> list[Signal]:
        with self._eval_lock:
            now = self.clock.now()
            rules = {r.id: r for r in self.definitions.rules.rules}
            signals = self.evaluator.evaluate(list(rules.values()), now)
            for signal in signals:
                self.incidents.handle(signal, rules[signal.rule_id], now)
            return signals

    def check_sla(self) -> int:
        """Escalate unacknowledged incidents and remind owners of overdue items."""
        with self._eval_lock:
            return self.sla.run(self.clock.now())

    def deliver(self) -> int:
        with self._deliver_lock:
            return self.dispatcher.deliver_due(self.clock.now())

    def cycle(self) -> None:
        """Poll every source, evaluate, deliver (used by tests, the demo and `--once`)."""
        for name in self.sources:
            self.poll(name)
        self.evaluate()
        self.check_sla()
        self.deliver()

    def swap_definitions(self, definitions: Definitions) -> None:
        with self._eval_lock:
            self.definitions = definitions
            self.incidents.playbooks = definitions.playbooks
            self.sla.playbooks = definitions.playbooks
