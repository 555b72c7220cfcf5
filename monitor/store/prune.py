"""Retention: remove what no rule, review or backtest still needs, in small batches.

Items published before the *cutoff* go, with their rule hits (``monitor.detect.hits``), stories
whose newest item is older, and finished outbox rows (sent or failed) of incidents that are
no longer active. Incidents, their checklists, timelines and evidence are never removed.

The cutoff is ``now - retention`` (the config's ``retention:``; default: the longest rule
lookback plus a day, at least 30 days), moved earlier while an active incident's review
still reads older items (its opening minus six hours minus the longest lookback).

Each batch is one transaction deleting an item range and its hits together, so a pruning
run stopped at any point (a crash, a kill) leaves every remaining item with its hits and
every remaining hit with its item; the next run carries on. Between batches the store's
lock is free, so polling and evaluation are never held up by more than one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.config.durations import format_duration
from monitor.config.rules import Rule
from monitor.errors import Problem
from monitor.store.sql import SqlStore, dt, ts

log = logging.getLogger(__name__)

MIN_RETENTION = timedelta(days=30)
MARGIN = timedelta(days=1)
REVIEW_BEFORE = timedelta(hours=6)  # monitor.incidents.review reads items from this long before an incident opened
BATCH = 2000
PRUNE_EVERY = timedelta(hours=1)
ACTIVE = ("open", "acknowledged", "stable")


def longest_lookback(rules: Iterable[Rule]) -> timedelta:
    return max((rule.lookback() for rule in rules), default=timedelta(0))


def retention_for(configured: timedelta | None, rules: Iterable[Rule]) -> timedelta:
    """The configured retention, else the longest lookback plus a margin, at least 30 days."""
    if configured is not None:
        return configured
    return max(longest_lookback(rules) + MARGIN, MIN_RETENTION)


def retention_problems(configured: timedelta | None, entries: Iterable[tuple[Rule, str, int]]) -> list[Problem]:
    """Each rule that reads further back than a configured retention keeps: path:line, found, expected."""
    if configured is None:
        return []
    problems = []
    for rule, path, line in entries:
        lookback = rule.lookback()
        if lookback > configured:
            problems.append(
                Problem(
                    path,
                    line,
                    "lookback",
                    f"rule {rule.id!r} reads {format_duration(lookback)} back (its windows, baselines and "
                    "anomaly history)",
                    f"at most the config's retention: {format_duration(configured)} "
                    "(raise retention: or shorten the rule's window, baseline or history)",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class Pruned:
    cutoff: datetime
    items: int = 0
    hits: int = 0
    stories: int = 0
    outbox: int = 0

    def line(self, *, dry_run: bool) -> str:
        verb = "would remove" if dry_run else "removed"
        return (
            f"{verb} {self.items} item(s), {self.hits} rule hit(s), {self.stories} story(ies) and "
            f"{self.outbox} finished outbox message(s) older than {self.cutoff:%Y-%m-%d %H:%M} UTC"
        )


def cutoff_for(store: SqlStore, retention: timedelta, rules: Sequence[Rule], now: datetime) -> datetime:
    """``now - retention``, earlier while an active incident's review still needs older items."""
    cutoff = now - retention
    marks = ",".join("?" * len(ACTIVE))
    row = store._one(f"SELECT MIN(opened_at) FROM incidents WHERE status IN ({marks})", ACTIVE)
    oldest = dt(row[0]) if row else None
    if oldest is not None:
        cutoff = min(cutoff, oldest - REVIEW_BEFORE - longest_lookback(rules))
    return cutoff


_OUTBOX = (
    "status IN ('sent', 'failed') AND created_at < ? AND (incident_id IS NULL OR incident_id IN "
    f"(SELECT id FROM incidents WHERE status NOT IN ({', '.join(repr(s) for s in ACTIVE)})))"
)


def plan(store: SqlStore, cutoff: datetime) -> Pruned:
    """What a run would remove now (``crisismon db prune --dry-run``)."""
    at = ts(cutoff)
    with store.transaction():
        return Pruned(
            cutoff,
            items=_count(store, "SELECT COUNT(*) FROM items WHERE published_at < ?", at),
            hits=_count(store, "SELECT COUNT(*) FROM rule_hits WHERE published_at < ?", at),
            stories=_count(store, "SELECT COUNT(*) FROM stories WHERE last_at < ?", at),
            outbox=_count(store, f"SELECT COUNT(*) FROM outbox WHERE {_OUTBOX}", at),
        )


def _count(store: SqlStore, statement: str, at: float | None) -> int:
    row = store._one(statement, (at,))
    return int(row[0]) if row else 0


def prune(
    store: SqlStore, cutoff: datetime, *, batch: int = BATCH, after_batch: Callable[[Pruned], None] | None = None
) -> Pruned:
    """Remove what is older than ``cutoff``, ``batch`` items (with their hits) per transaction.

    ``after_batch`` is told the running totals after each committed batch (progress)."""
    at = ts(cutoff)
    done = Pruned(cutoff)
    while True:
        with store.transaction():
            row = store._one(
                "SELECT published_at FROM items WHERE published_at < ? ORDER BY published_at LIMIT 1 OFFSET ?",
                (at, batch - 1),
            )
            edge = at if row is None else float(row[0])
            hits = store._exec("DELETE FROM rule_hits WHERE published_at <= ? AND published_at < ?", (edge, at))
            items = store._exec("DELETE FROM items WHERE published_at <= ? AND published_at < ?", (edge, at))
            store._exec("DELETE FROM rule_groups WHERE last_at <= ? AND last_at < ?", (edge, at))
            # every hour that held a removed hit (its sums would no longer match the hits)
            store._exec("DELETE FROM rule_hours WHERE hour < ?", (min(edge or 0.0, at or 0.0) + 3600.0,))
            done = Pruned(cutoff, done.items + _n(items), done.hits + _n(hits), done.stories, done.outbox)
        if after_batch is not None:
            after_batch(done)
        if row is None:
            break
    with store.transaction():  # detectors not saved since: their rule is gone or their group quiet for long
        store._exec("DELETE FROM detector_states WHERE saved_at < ?", (at,))
    for table, where in (("stories", "last_at < ?"), ("outbox", _OUTBOX)):
        while True:
            with store.transaction():
                cur = store._exec(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} LIMIT {int(batch)})",
                    (at,),
                )
                removed = _n(cur)
                if table == "stories":
                    done = Pruned(cutoff, done.items, done.hits, done.stories + removed, done.outbox)
                else:
                    done = Pruned(cutoff, done.items, done.hits, done.stories, done.outbox + removed)
            if after_batch is not None:
                after_batch(done)
            if removed < batch:
                break
    return done


def _n(cur: object) -> int:
    return max(int(getattr(cur, "rowcount", 0)), 0)


class Pruner:
    """The daemon's hourly pruning job (one daemon at a time: the ``prune`` lease)."""

    def __init__(
        self,
        store: SqlStore,
        now: Callable[[], datetime],
        retention: Callable[[], timedelta],
        rules: Callable[[], Sequence[Rule]],
        holds: Callable[[str, datetime], bool] | None = None,
    ) -> None:
        self.store = store
        self.now = now
        self.retention = retention
        self.rules = rules
        self.holds = holds

    def run(self) -> Pruned | None:
        now = self.now()
        if self.holds is not None and not self.holds("prune", now):
            return None
        cutoff = cutoff_for(self.store, self.retention(), self.rules(), now)
        done = prune(self.store, cutoff)
        if done.items or done.outbox or done.stories:
            log.info("retention: %s", done.line(dry_run=False))
        return done


def daemon_pruner(engine: Any, config: Any, store: SqlStore, clock: Any) -> Pruner:
    """The pruner of a running daemon: the config's retention over the engine's current rules
    (they follow hot reloads), under the ``prune`` lease."""

    def rules() -> Sequence[Rule]:
        return list(engine.definitions.rules.rules)

    leases = engine.leases
    return Pruner(
        store,
        clock.now,
        lambda: retention_for(config.retention, rules()),
        rules,
        leases.acquire if leases is not None else None,
    )
