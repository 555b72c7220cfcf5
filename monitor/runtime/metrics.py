"""What the daemon counts and measures about itself, exposed on ``GET /metrics``.

Built on prometheus-client, with one registry per ``Metrics`` (no global state, so tests
and several engines in one process do not mix). Callers keep the small interface they had:
``inc(name, amount, **labels)``, ``get``, ``total``; the named families below are declared
with their help text and labels, and ``declare`` creates every known source's, rule's and
destination's series at zero, so that no series appears only after its first event.

Gauges that describe the database (outbox depth and age, incidents by state and severity,
source up and last success) are read from the store at scrape time by :class:`StoreCollector`,
so every daemon sharing a database reports the same, current figures.
"""

from __future__ import annotations

import logging
import platform
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor import __version__

log = logging.getLogger(__name__)
PREFIX = "crisismon_"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Poll durations span local files (ms) to slow CRMs (tens of seconds).
POLL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60)
EVAL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# From the newest data's arrival to the alert: a poll interval plus evaluation, or the rule's `for`.
LATENCY_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


@dataclass(frozen=True)
class Family:
    help: str
    labels: tuple[str, ...]


#: The counters callers ``inc`` by name (the name without the ``crisismon_`` prefix).
COUNTERS: dict[str, Family] = {
    "items_total": Family("New items stored (after de-duplication), by source", ("source",)),
    "source_errors_total": Family("Problems reported by polls (failed fetches, skipped items), by source", ("source",)),
    "polls_total": Family("Polls of a source, by outcome (ok or failed)", ("source", "outcome")),
    "messages_sent_total": Family("Outbox messages delivered, by destination", ("destination",)),
    "delivery_failures_total": Family("Failed delivery attempts, by destination", ("destination",)),
    "delivery_attempts_total": Family(
        "Delivery attempts, by destination and result (sent, failed)", ("destination", "result")
    ),
    "intake_records_total": Family("Complaint records posted to the HTTP intake, by outcome", ("outcome",)),
    "evaluation_overruns_total": Family("Evaluation rounds that took longer than evaluate_every", ()),
}

#: Counters that also count a delivery attempt of the given result.
_ATTEMPT_RESULT = {"messages_sent_total": "sent", "delivery_failures_total": "failed"}


class Metrics:
    """The daemon's counters and histograms, and the store's gauges once ``watch`` is called."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tally: Tally[tuple[str, tuple[tuple[str, str], ...]]] = Tally()
        self.registry = CollectorRegistry(auto_describe=True)
        self._counters: dict[str, Counter] = {
            name: Counter(_base(name), fam.help, fam.labels, registry=self.registry) for name, fam in COUNTERS.items()
        }
        self.poll_seconds = Histogram(
            f"{PREFIX}poll_duration_seconds",
            "Time to poll a source (fetch and parse), by source",
            ("source",),
            buckets=POLL_BUCKETS,
            registry=self.registry,
        )
        self.eval_seconds = Histogram(
            f"{PREFIX}rule_evaluation_seconds",
            "Time to evaluate one rule over its window, by rule",
            ("rule",),
            buckets=EVAL_BUCKETS,
            registry=self.registry,
        )
        self.cycle_seconds = Histogram(
            f"{PREFIX}evaluation_cycle_seconds",
            "Time to evaluate every rule this daemon holds, once (one round of evaluate_every)",
            buckets=(*EVAL_BUCKETS, 10, 30, 60),
            registry=self.registry,
        )
        self.alert_latency = Histogram(
            f"{PREFIX}alert_latency_seconds",
            "From the arrival of the newest item of the rule's sources to the incident's alert being queued",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        info = Gauge(
            f"{PREFIX}build_info",
            "crisismon's version and Python's (always 1)",
            ("version", "python"),
            registry=self.registry,
        )
        info.labels(version=__version__, python=platform.python_version()).set(1)
        self.last_evaluation: dict[str, datetime] = {}  # rule id -> when this daemon last evaluated it

    # -- the callers' interface ---------------------------------------------------------------

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        if amount < 0:
            raise ValueError(f"counter {name} cannot go down (inc by {amount})")
        with self._lock:
            self._tally[(name, tuple(sorted(labels.items())))] += amount
        counter = self._counter(name, tuple(sorted(labels)))
        if counter is None:
            return
        (counter.labels(**labels) if labels else counter).inc(amount)
        result = _ATTEMPT_RESULT.get(name)
        if result is not None and "destination" in labels:
            self.inc("delivery_attempts_total", amount, destination=labels["destination"], result=result)

    def get(self, name: str, **labels: str) -> int:
        with self._lock:
            return self._tally[(name, tuple(sorted(labels.items())))]

    def total(self, name: str) -> int:
        with self._lock:
            return sum(v for (n, _), v in self._tally.items() if n == name)

    def observe_poll(self, source: str, seconds: float, *, failed: bool) -> None:
        self.poll_seconds.labels(source=source).observe(seconds)
        self.inc("polls_total", source=source, outcome="failed" if failed else "ok")

    def observe_evaluation(self, rule: str, seconds: float, at: datetime) -> None:
        self.eval_seconds.labels(rule=rule).observe(seconds)
        self.last_evaluation[rule] = at

    def observe_cycle(self, seconds: float) -> None:
        self.cycle_seconds.observe(seconds)

    def observe_alert_latency(self, seconds: float) -> None:
        self.alert_latency.observe(max(seconds, 0.0))

    def declare(
        self, *, sources: Iterable[str] = (), destinations: Iterable[str] = (), rules: Iterable[str] = ()
    ) -> None:
        """Create the series of every known source, destination and rule at zero."""
        for source in sources:
            for name in ("items_total", "source_errors_total"):
                self._counters[name].labels(source=source)
            for outcome in ("ok", "failed"):
                self._counters["polls_total"].labels(source=source, outcome=outcome)
            self.poll_seconds.labels(source=source)
        for destination in destinations:
            for name in ("messages_sent_total", "delivery_failures_total"):
                self._counters[name].labels(destination=destination)
            for result in ("sent", "failed"):
                self._counters["delivery_attempts_total"].labels(destination=destination, result=result)
        for rule in rules:
            self.eval_seconds.labels(rule=rule)
        for outcome in ("accepted", "rejected"):
            self._counters["intake_records_total"].labels(outcome=outcome)

    def watch(self, collector: Collector) -> None:
        """Add a scrape-time collector (the store's gauges)."""
        self.registry.register(collector)

    # -- exposition ---------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)

    def exposition(self) -> list[str]:
        """The exposition as lines (for logs and older callers)."""
        return self.render().decode("utf-8").splitlines()

    def _counter(self, name: str, label_names: tuple[str, ...]) -> Counter | None:
        counter = self._counters.get(name)
        if counter is None:  # a counter nobody declared: declared on first use, with its labels
            with self._lock:
                counter = self._counters.get(name)
                if counter is None:
                    counter = Counter(_base(name), f"crisismon counter {name}", label_names, registry=self.registry)
                    self._counters[name] = counter
        if tuple(sorted(counter._labelnames)) != label_names:
            log.error("metric %s takes labels %s, not %s: not counted", name, counter._labelnames, label_names)
            return None
        return counter


def _base(name: str) -> str:
    """``items_total`` -> ``crisismon_items`` (prometheus-client adds ``_total`` to counters)."""
    return PREFIX + name.removesuffix("_total")


# -- gauges read from the store at scrape time ------------------------------------------------


@dataclass(frozen=True)
class SourceGauge:
    name: str
    up: bool
    last_success: datetime | None


class StoreCollector(Collector):
    """Outbox depth and age, incidents by state and severity, source up and last success.

    ``store`` is a ``SqlStore``; ``sources(now)`` gives each watched source's health;
    ``clock`` gives ``now``. A database error is logged and the gauges are left out of that
    scrape (``/readyz`` says what is wrong), rather than failing ``/metrics`` as a whole.
    """

    def __init__(self, store: Any, clock: Any, sources: Callable[[datetime], Sequence[SourceGauge]]) -> None:
        self.store = store
        self.clock = clock
        self.sources = sources

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only: never asked at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            families = self._families(self.clock.now())
        except Exception:
            log.exception("the store's gauges could not be read for /metrics")
            return
        yield from families

    def _families(self, now: datetime) -> list[GaugeMetricFamily]:
        from monitor.models import IncidentStatus

        depth = GaugeMetricFamily(f"{PREFIX}outbox_messages", "Outbox messages by status", labels=("status",))
        counts = self.store.outbox_counts()
        for status in ("pending", "sent", "failed", "silenced"):
            depth.add_metric((status,), counts.get(status, 0))
        age = GaugeMetricFamily(
            f"{PREFIX}outbox_oldest_pending_age_seconds",
            "Age of the oldest message waiting in the outbox (0: none waiting)",
        )
        oldest = self.store.oldest_pending_message()
        age.add_metric((), (now - oldest).total_seconds() if oldest else 0.0)
        incidents = GaugeMetricFamily(
            f"{PREFIX}incidents", "Incidents by status and severity", labels=("status", "severity")
        )
        by: Tally[tuple[str, str]] = Tally({(s.value, sev): 0 for s in IncidentStatus for sev in _severities()})
        for incident in self.store.incidents():
            by[(incident.status.value, incident.severity)] += 1
        for key, count in sorted(by.items()):
            incidents.add_metric(key, count)
        active = GaugeMetricFamily(f"{PREFIX}incidents_active", "Open, acknowledged or stable incidents")
        active.add_metric((), sum(c for (s, _), c in by.items() if s in ("open", "acknowledged", "stable")))
        up = GaugeMetricFamily(f"{PREFIX}source_up", "1 when the source is neither down nor silent", labels=("source",))
        last = GaugeMetricFamily(
            f"{PREFIX}source_last_success_timestamp_seconds",
            "When the source was last polled successfully (Unix time; 0: never)",
            labels=("source",),
        )
        for source in self.sources(now):
            up.add_metric((source.name,), 1.0 if source.up else 0.0)
            last.add_metric((source.name,), source.last_success.timestamp() if source.last_success else 0.0)
        return [depth, age, incidents, active, up, last]


def _severities() -> tuple[str, ...]:
    from monitor.detect.severity import SEVERITIES

    return tuple(SEVERITIES)


def alert_latency(store: Any, metrics: Metrics) -> Callable[[Any, Any, datetime], None]:
    """``IncidentService``'s ``opened`` hook: observe the arrival -> alert latency of a new incident.

    The arrival is the newest poll that stored items of the rule's sources (every source
    for a rule naming none), as recorded by the poll book (``monitor.runtime.health``).
    """
    from monitor.runtime.health import SECTION

    def opened(rule: Any, incident: Any, now: datetime) -> None:
        names = rule.all_sources() or [h.name for h in store.source_health()]
        arrivals = [store.source_data(name).get(SECTION, {}).get("last_item_at") for name in names]
        known = [datetime.fromisoformat(a) for a in arrivals if isinstance(a, str)]
        if known:
            metrics.observe_alert_latency((now - max(known)).total_seconds())

    return opened
