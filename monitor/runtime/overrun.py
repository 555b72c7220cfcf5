"""Visible overload: an evaluation round that takes longer than ``evaluate_every``.

The scheduler would skip the next runs silently; instead each overrun logs one warning
with the time the round took and its slowest rules, and counts
``crisismon_evaluation_overruns_total``. Every round's time goes to
``crisismon_evaluation_cycle_seconds``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from monitor.clock import monotonic
from monitor.runtime.metrics import Metrics

log = logging.getLogger(__name__)
SLOWEST = 3


class Cycle:
    """One evaluation round, timed rule by rule."""

    def __init__(self, watch: OverrunWatch) -> None:
        self.watch = watch
        self.started = monotonic()
        self.rules: dict[str, float] = {}
        self.prepared = 0.0

    @contextmanager
    def preparing(self) -> Iterator[None]:
        """Time what is done before the rules: rebuilding edited rules' hits, starting anomaly detectors."""
        started = monotonic()
        try:
            yield
        finally:
            self.prepared += monotonic() - started

    @contextmanager
    def rule(self, rule_id: str) -> Iterator[None]:
        started = monotonic()
        try:
            yield
        finally:
            self.rules[rule_id] = self.rules.get(rule_id, 0.0) + monotonic() - started

    def finish(self) -> float:
        """The round's seconds (also observed, and warned about when over the interval)."""
        took = monotonic() - self.started
        self.watch.finished(took, self.rules, self.prepared)
        return took


class OverrunWatch:
    def __init__(self, metrics: Metrics, every: timedelta | None) -> None:
        self.metrics = metrics
        self.every = every

    def start(self) -> Cycle:
        return Cycle(self)

    def finished(self, took: float, rules: dict[str, float], prepared: float = 0.0) -> None:
        self.metrics.observe_cycle(took)
        if self.every is None or took <= self.every.total_seconds():
            return
        self.metrics.inc("evaluation_overruns_total")
        slowest = sorted(rules.items(), key=lambda kv: -kv[1])[:SLOWEST]
        named = ", ".join(f"{rule} {seconds:.2f}s" for rule, seconds in slowest) or "no rule"
        before = ""
        if prepared > max(rules.values(), default=0.0):
            before = (
                f"; before the rules, {prepared:.2f}s went to rebuilding edited rules' hits and starting "
                "anomaly detectors (once after a rule is added or edited, or a start without saved detectors)"
            )
        log.warning(
            "evaluation took %.2fs, longer than evaluate_every (%gs): later runs are skipped until it catches up; "
            "slowest rules: %s (narrow their sources, match or lookback, or raise evaluate_every)%s",
            took,
            self.every.total_seconds(),
            named,
            before,
        )
