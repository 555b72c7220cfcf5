"""Rebuilds of edited rules' hits in a thread of their own (the daemon), so that the other
rules are evaluated meanwhile.

A rule added or edited must be rebuilt from the stored items of its lookback before it can
be evaluated (``monitor.detect.hits``): about 5 s for a 7-day rule at 1M stored items, ten
times that at 10M. Done inside the evaluation round, that would hold every rule's alerts for
as long. Here the round hands the rules to rebuild to one background rebuild at a time and
waits for it up to ``WAIT`` (a small store, a fresh one: the rules are evaluated in this very
round); a longer rebuild goes on while the round evaluates the rules that are ready, and a
rule is evaluated again from the first round after its hits and sums are built. Intake
records the edited rule's hits meanwhile, as it does for every rule in force.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from monitor.config.rules import Rule
from monitor.detect.hits import HitBook

log = logging.getLogger(__name__)

WAIT = 2.0
"""Seconds a round waits for a rebuild it started before leaving its rules out."""


class Rebuilds:
    """One background rebuild at a time over a ``HitBook``."""

    def __init__(self, book: HitBook, wait: float = WAIT) -> None:
        self.book = book
        self.wait_for = wait
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._waiting: set[str] = set()  # rules said to wait, so that it is said once

    def ready(self, rules: Sequence[Rule], now: datetime) -> list[Rule]:
        """The rules whose hits and sums are built, to evaluate now; the others are rebuilt in
        the background (started here when no rebuild runs) and left out until they are."""
        stale = self._stale(rules, now)
        started = None
        with self._lock:
            if stale and self._thread is None:
                batch = [rule for rule in rules if rule.id in stale]
                started = self._thread = threading.Thread(
                    target=self._run, args=(batch, now), name="crisismon-rebuild", daemon=True
                )
                started.start()
        if started is not None:
            started.join(self.wait_for)
            if not started.is_alive():
                stale = self._stale(rules, now)  # none, unless the rebuild failed
        with self._lock:
            if started is not None and stale:
                log.info(
                    "rule(s) %s: rebuilt in the background; the other rules are evaluated meanwhile",
                    ", ".join(sorted(stale)),
                )
            for rule_id in sorted(stale - self._waiting):
                log.warning("rule %s: not evaluated until its hits are rebuilt (see the progress lines)", rule_id)
            self._waiting = (self._waiting - {rule.id for rule in rules}) | stale
        return [rule for rule in rules if rule.id not in stale]

    def _stale(self, rules: Sequence[Rule], now: datetime) -> set[str]:
        return {rule.id for rule in rules if not self.book.ready(rule, now)}

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running rebuild (tests, a clean stop); True when none runs."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._thread is None

    def _run(self, batch: Sequence[Rule], now: datetime) -> None:
        try:
            self.book.ensure(batch, now)
        except Exception:  # a database outage, a bug: the next round starts it again
            names = ", ".join(rule.id for rule in batch)
            log.exception("rebuilding rule(s) %s failed; it starts again at the next round", names)
        finally:
            with self._lock:
                self._thread = None
