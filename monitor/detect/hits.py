"""What each rule counts, matched once at ingest and kept (``rule_hits``), so that evaluation
reads a rule's few hits instead of re-reading and re-matching every stored item.

A *hit* is one stored item that a rule counts: its group, which of the rule's selections
count it (``marks``: bit 0 the rule's own selection, bit i + 1 its i-th leaf condition) and
what detection needs of it (time, count, sentiment, story). The same function decides hits
for the live daemon (at ingest, :class:`HitBook`) and for backtests and rule tests
(:class:`MatchedHits`, from items held in memory), so both reach the same verdicts.

A rule added or edited (a new *fingerprint* of what decides its hits: sources, match,
grouping, the leaves' own selections and the matching code) is rebuilt from the stored
items of its lookback, an hour of items at a time, with a progress line; until then the
old hits are not read.

Each rule's hits are also summed per group, hour and condition (``rule_hours``: count,
negative count, scored count, sentiment in integer ``units``), in the transaction that
stores them, so that a ``threshold``/``spike``/``immediate`` condition on a ``SUMMABLE``
metric reads whole hours of its windows as a few sums and only the hits of the partial
hours at their edges. The sums are rebuilt from the rule's hits when its hits are, or when
its negative cut changes (``hours_fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from monitor import __version__
from monitor.clock import monotonic
from monitor.config.rules import Rule, leaves
from monitor.detect.matching import group_key, selects
from monitor.detect.window import HOUR, Aggregate, Observation, hour_of, units
from monitor.models import ScoredItem
from monitor.store import SqlStore
from monitor.store.sql import dt_, ts

log = logging.getLogger(__name__)

OWN = 1
"""``marks`` bit of the rule's own selection (severity and evidence count these)."""
HITS_VERSION = 1
"""Bump when matching changes what a rule counts: every rule's hits are rebuilt."""
REBUILD_CHUNK = timedelta(hours=1)
LATER = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Hit:
    source: str
    item_id: str
    group: str
    marks: int
    obs: Observation


class ItemReader(Protocol):
    def items_between(self, sources: Sequence[str] | None, start: datetime, end: datetime) -> list[ScoredItem]: ...


class HitReader(Protocol):
    """Where evaluation reads a rule's hits in ``(start, end]``, oldest first, and which
    groups have hits there (None: not known without reading them all)."""

    def hits_between(self, rule: Rule, start: datetime, end: datetime) -> list[Hit]: ...

    def groups_between(self, rule: Rule, start: datetime, end: datetime) -> set[str] | None: ...


def leaf_bits(rule: Rule) -> dict[int, int]:
    """``id(leaf)`` -> its ``marks`` bit."""
    return {id(leaf): 2 << i for i, leaf in enumerate(leaves(rule.condition))}


def hit_of(rule: Rule, scored: ScoredItem) -> Hit | None:
    """The item as the rule counts it; None when no selection of the rule counts it or it
    has no group."""
    own = selects(rule, None, scored)
    marks = OWN if own else 0
    for i, leaf in enumerate(_leaves(rule)):
        if own if not (leaf.sources or leaf.match) else selects(rule, leaf, scored):
            marks |= 2 << i
    if not marks:
        return None
    key = group_key(rule.group_by, scored, keep_missing=rule.group_missing == "keep")
    if key is None:
        return None
    it = scored.item
    return Hit(it.source, it.id, key, marks, Observation(it.published_at, it.count, scored.sentiment, scored.story))


_LEAVES: dict[int, tuple[Rule, list[Any]]] = {}


def _leaves(rule: Rule) -> list[Any]:
    """``leaves(rule.condition)``, once per rule object (rules are loaded once)."""
    kept = _LEAVES.get(id(rule))
    if kept is not None and kept[0] is rule:
        return kept[1]
    if len(_LEAVES) > 10_000:
        _LEAVES.clear()
    found = leaves(rule.condition)
    _LEAVES[id(rule)] = (rule, found)
    return found


def stored_items(store: SqlStore, keys: Iterable[tuple[str, str]]) -> list[ScoredItem]:
    """The stored items of ``keys`` (source, id), oldest first."""
    by_source: dict[str, list[str]] = {}
    for source, item_id in keys:
        by_source.setdefault(source, []).append(item_id)
    found = []
    for source, ids in sorted(by_source.items()):
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.extend(store.items_of(source, chunk))
    return sorted(found, key=lambda s: (s.item.published_at, s.item.source, s.item.id))


def fingerprint(rule: Rule) -> str:
    """What decides a rule's hits, hashed: a change means its stored hits must be rebuilt."""
    parts = {
        "v": [HITS_VERSION, __version__],
        "rule": rule.model_dump(mode="json", include={"sources", "match", "group_by", "group_missing"}),
        "leaves": [leaf.model_dump(mode="json", include={"sources", "match"}) for leaf in leaves(rule.condition)],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


class MatchedHits:
    """Hits matched now from items (backtests, rule tests, the console's replays)."""

    def __init__(self, items: ItemReader) -> None:
        self.items = items

    def hits_between(self, rule: Rule, start: datetime, end: datetime) -> list[Hit]:
        found = (hit_of(rule, s) for s in self.items.items_between(rule.all_sources() or None, start, end))
        return [h for h in found if h is not None]

    def groups_between(self, rule: Rule, start: datetime, end: datetime) -> set[str] | None:
        return None


class HitBook:
    """The stored hits of the current rules: written at ingest, rebuilt when a rule changes,
    read by evaluation. ``rules()`` gives the rules in force (it follows hot reloads)."""

    def __init__(self, store: SqlStore, rules: Callable[[], Sequence[Rule]], cut: float | None = None) -> None:
        """``cut``: the configured negative cut (a rule's ``negative_below`` comes first);
        None keeps no hourly sums (``hours_between`` then gives None)."""
        self.store = store
        self.rules = rules
        self.cut = cut
        self._built: dict[str, tuple[str, float]] = {}  # rule id -> (fingerprint, since)
        self._hours_built: dict[str, str] = {}  # rule id -> hours fingerprint

    def cut_of(self, rule: Rule) -> float | None:
        """The negative cut the rule's hourly sums count with (None: none kept)."""
        return None if self.cut is None else rule.negative_below or self.cut

    # -- ingest --------------------------------------------------------------------------

    def record(self, scored: Sequence[ScoredItem]) -> int:
        """Store the hits of new items for every rule; call it in the transaction storing them."""
        rows = []
        cuts: dict[str, float] = {}
        with self.store.transaction():  # the rules are read under the store's lock (see rebuild)
            for rule in self.rules():
                cut = self.cut_of(rule)
                if cut is not None:
                    cuts[rule.id] = cut
                for s in scored:
                    hit = hit_of(rule, s)
                    if hit is not None:
                        rows.append(_row(rule.id, hit))
            added = insert_hits(self.store, rows)
            touch_groups(self.store, rows)
            if cuts and added == len(rows):  # all new: their sums add to the hours'
                add_hours(self.store, hour_sums([r for r in rows if r[0] in cuts], cuts))
            elif cuts:  # some were stored already (a replay): the touched hours summed again
                touched = {(str(r[0]), hour_of(float(r[3]))) for r in rows if r[0] in cuts}  # type: ignore[arg-type]
                for rule_id, hour in sorted(touched):
                    sum_hours(self.store, rule_id, cuts[rule_id], hour - HOUR, hour)
        return len(rows)

    def hours_between(self, rule: Rule, start: datetime, end: datetime) -> dict[str, dict[int, dict[float, Aggregate]]]:
        """The rule's hourly sums of the hours ending in ``(start, end]``: group -> bit -> hour ->
        sums (call ``ensure`` first)."""
        found: dict[str, dict[int, dict[float, Aggregate]]] = {}
        for group, bit, hour, count, negative, scored, sentiment in self.store._rows(
            "SELECT group_key, bit, hour, count, negative, scored, sentiment_units FROM rule_hours "
            "WHERE rule_id = ? AND hour > ? AND hour <= ?",
            (rule.id, ts(start), ts(end)),
        ):
            found.setdefault(str(group), {}).setdefault(int(bit), {})[float(hour)] = Aggregate(
                int(count), int(negative), int(scored), int(sentiment)
            )
        return found

    # -- evaluation ----------------------------------------------------------------------

    def hits_between(self, rule: Rule, start: datetime, end: datetime) -> list[Hit]:
        """The stored hits (call ``ensure`` first, at the evaluation's time)."""
        rows = self.store._rows(
            "SELECT source, item_id, group_key, marks, published_at, count, sentiment, story_id FROM rule_hits "
            "WHERE rule_id = ? AND published_at > ? AND published_at <= ? ORDER BY published_at, source, item_id",
            (rule.id, ts(start), ts(end)),
        )
        return [
            Hit(
                r[0],
                r[1],
                r[2],
                int(r[3]),
                Observation(dt_(r[4]), int(r[5]), r[6], None if r[7] is None else int(r[7])),
            )
            for r in rows
        ]

    def groups_between(self, rule: Rule, start: datetime, end: datetime) -> set[str] | None:
        """The groups with a hit in ``(start, end]``: ``rule_groups`` has each group's latest
        hit; a group whose latest is after ``end`` (items arriving during an evaluation, or
        dated ahead) is looked up in ``rule_hits``."""
        rows = self.store._rows(
            "SELECT group_key, last_at FROM rule_groups WHERE rule_id = ? AND last_at > ?", (rule.id, ts(start))
        )
        found = set()
        for group, last_at in rows:
            if float(last_at) <= (ts(end) or 0.0) or self.store._one(
                "SELECT 1 FROM rule_hits WHERE rule_id = ? AND group_key = ? AND published_at > ? "
                "AND published_at <= ? LIMIT 1",
                (rule.id, group, ts(start), ts(end)),
            ):
                found.add(str(group))
        return found

    def ensure(self, rules: Iterable[Rule], now: datetime) -> None:
        """Rebuild the hits of rules added or edited since they were built (or whose lookback
        now reaches before what was built)."""
        stale: list[tuple[Rule, str]] = []
        for rule in rules:
            fp = fingerprint(rule)
            start = ts(now - rule.lookback()) or 0.0
            known = self._built.get(rule.id)
            if known is None or known[0] != fp:
                known = stored_build(self.store, rule.id)
                if known is not None:
                    self._built[rule.id] = known
            if known is None or known[0] != fp or known[1] > start:
                stale.append((rule, fp))
        if stale:
            self.rebuild(stale, now)
        if self.cut is None:
            return
        for rule in rules:
            hours_fp = hours_fingerprint(rule, self.cut_of(rule) or 0.0)
            if self._hours_built.get(rule.id) == hours_fp:
                continue
            row = self.store._one("SELECT fingerprint FROM rule_hours_built WHERE rule_id = ?", (rule.id,))
            if row is None or str(row[0]) != hours_fp:
                self.build_hours(rule, hours_fp)
            self._hours_built[rule.id] = hours_fp

    def build_hours(self, rule: Rule, hours_fp: str) -> None:
        """Sum the rule's stored hits per group, hour and condition again, a day at a time
        (each day its own transaction; what ingest adds meanwhile is counted once: into an
        hour summed already it adds, into one not yet summed it is summed with the rest)."""
        cut = self.cut_of(rule) or 0.0
        started = monotonic()
        with self.store.transaction():
            self.store._exec("DELETE FROM rule_hours_built WHERE rule_id = ?", (rule.id,))
            self.store._exec("DELETE FROM rule_hours WHERE rule_id = ?", (rule.id,))
            self._hours_built.pop(rule.id, None)
            span = self.store._one(
                "SELECT MIN(published_at), MAX(published_at) FROM rule_hits WHERE rule_id = ?", (rule.id,)
            )
        if span is not None and span[0] is not None:
            edge, last = hour_of(float(span[0])) - HOUR, hour_of(float(span[1]))
            log.info("summing the hits of rule %s per hour (%d day(s))", rule.id, -(-(last - edge) // 86400))
            while edge < last:
                upper = min(edge + 86400.0, last)
                with self.store.transaction():
                    sum_hours(self.store, rule.id, cut, edge, upper)
                edge = upper
        with self.store.transaction():
            self.store._exec("INSERT INTO rule_hours_built (rule_id, fingerprint) VALUES (?, ?)", (rule.id, hours_fp))
        log.info("summed the hits of rule %s per hour in %.1fs", rule.id, monotonic() - started)

    def rebuild(self, stale: Sequence[tuple[Rule, str]], now: datetime) -> None:
        """Match the stored items of the rules' lookback again, an hour at a time (each hour
        its own transaction: intake goes on meanwhile and records its own hits)."""
        since = min(now - rule.lookback() for rule, _ in stale)
        names = ", ".join(rule.id for rule, _ in stale)
        started = monotonic()
        with self.store.transaction():
            for rule, _ in stale:
                self.store._exec("DELETE FROM rule_hits_built WHERE rule_id = ?", (rule.id,))
                self.store._exec("DELETE FROM rule_hits WHERE rule_id = ?", (rule.id,))
                self.store._exec("DELETE FROM rule_groups WHERE rule_id = ?", (rule.id,))
                self.store._exec("DELETE FROM rule_hours_built WHERE rule_id = ?", (rule.id,))
                self.store._exec("DELETE FROM rule_hours WHERE rule_id = ?", (rule.id,))
                self._built.pop(rule.id, None)
                self._hours_built.pop(rule.id, None)
        chunks = max(1, -int(-(now - since) // REBUILD_CHUNK))
        log.info("rebuilding what rule(s) %s count from stored items since %s (%d hour(s))", names, since, chunks)
        edge, done, reported, found = since, 0, 0, 0
        while edge < now + LATER:
            upper = min(edge + REBUILD_CHUNK, now) if edge < now else now + LATER  # then any item dated later
            with self.store.transaction():
                rows = []
                for rule, _ in stale:
                    if upper <= now - rule.lookback():
                        continue
                    for s in self.store.items_between(rule.all_sources() or None, edge, upper):
                        hit = hit_of(rule, s)
                        if hit is not None:
                            rows.append(_row(rule.id, hit))
                insert_hits(self.store, rows)
                touch_groups(self.store, rows)
            found += len(rows)
            edge, done = upper, min(done + 1, chunks)
            if done * 10 // chunks > reported:
                reported = done * 10 // chunks
                log.info("rebuilding %s: %d%% (%d of %d hours, %d hits)", names, reported * 10, done, chunks, found)
        with self.store.transaction():
            for rule, fp in stale:
                start = ts(now - rule.lookback()) or 0.0
                self.store._exec(
                    "INSERT INTO rule_hits_built (rule_id, fingerprint, since, built_at) VALUES (?, ?, ?, ?)",
                    (rule.id, fp, start, ts(now)),
                )
                self._built[rule.id] = (fp, start)
        log.info("rebuilt %s: %d hits in %.1fs", names, found, monotonic() - started)


def _row(rule_id: str, hit: Hit) -> tuple[object, ...]:
    o = hit.obs
    return (rule_id, hit.source, hit.item_id, ts(o.at), hit.group, hit.marks, o.count, o.sentiment, o.story)


def insert_hits(store: SqlStore, rows: Sequence[tuple[object, ...]]) -> int:
    """Store hits (``_row`` tuples) not stored yet; how many were new."""
    if not rows:
        return 0
    return store.executemany(
        "INSERT INTO rule_hits (rule_id, source, item_id, published_at, group_key, marks, count, sentiment, "
        "story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        rows,
    )


def touch_groups(store: SqlStore, rows: Sequence[tuple[object, ...]]) -> None:
    """Move each (rule, group)'s latest hit forward to the latest of ``rows`` (``_row`` tuples)."""
    latest: dict[tuple[object, object], float] = {}
    for row in rows:
        key, at = (row[0], row[4]), float(row[3])  # type: ignore[arg-type]
        if at > latest.get(key, float("-inf")):
            latest[key] = at
    if not latest:
        return
    store.executemany(
        "INSERT INTO rule_groups (rule_id, group_key, last_at) VALUES (?, ?, ?) ON CONFLICT (rule_id, group_key) "
        "DO UPDATE SET last_at = CASE WHEN excluded.last_at > rule_groups.last_at THEN excluded.last_at "
        "ELSE rule_groups.last_at END",
        [(rule, group, at) for (rule, group), at in sorted(latest.items(), key=str)],
    )


def stored_build(store: SqlStore, rule_id: str) -> tuple[str, float] | None:
    row = store._one("SELECT fingerprint, since FROM rule_hits_built WHERE rule_id = ?", (rule_id,))
    return None if row is None else (str(row[0]), float(row[1]))


def hours_fingerprint(rule: Rule, cut: float) -> str:
    """What decides a rule's hourly sums: its hits and the negative cut."""
    return f"{fingerprint(rule)}:{cut!r}"


def hour_sums(
    rows: Iterable[tuple[object, ...]], cuts: dict[str, float]
) -> dict[tuple[str, str, float, int], Aggregate]:
    """``_row`` tuples summed per (rule, group, hour, condition bit); ``cuts``: each rule's cut."""
    sums: dict[tuple[str, str, float, int], Aggregate] = {}
    for row in rows:
        rule_id, at, group, marks, count = str(row[0]), float(row[3]), str(row[4]), int(row[5]), int(row[6])  # type: ignore[call-overload, arg-type]
        sentiment = row[7]
        if sentiment is None:
            part = Aggregate(count)
        else:
            score = float(sentiment)  # type: ignore[arg-type]
            part = Aggregate(count, count if score < cuts[rule_id] else 0, count, units(score) * count)
        hour = hour_of(at)
        bit = 2
        while bit <= marks:
            if marks & bit:
                key = (rule_id, group, hour, bit)
                kept = sums.get(key)
                sums[key] = part if kept is None else kept.plus(part)
            bit <<= 1
    return sums


def add_hours(store: SqlStore, sums: dict[tuple[str, str, float, int], Aggregate]) -> None:
    """Add sums to the stored hours (``hour_sums``)."""
    if not sums:
        return
    store.executemany(
        "INSERT INTO rule_hours (rule_id, group_key, hour, bit, count, negative, scored, sentiment_units) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule_id, hour, group_key, bit) DO UPDATE SET "
        "count = rule_hours.count + excluded.count, negative = rule_hours.negative + excluded.negative, "
        "scored = rule_hours.scored + excluded.scored, "
        "sentiment_units = rule_hours.sentiment_units + excluded.sentiment_units",
        [(*key, a.count, a.negative, a.scored, a.sentiment_units) for key, a in sorted(sums.items())],
    )


def sum_hours(store: SqlStore, rule_id: str, cut: float, start: float, end: float) -> None:
    """Sum the rule's stored hits of the hours ending in ``(start, end]`` (whole hours) again."""
    store._exec("DELETE FROM rule_hours WHERE rule_id = ? AND hour > ? AND hour <= ?", (rule_id, start, end))
    rows = store._rows(
        "SELECT rule_id, source, item_id, published_at, group_key, marks, count, sentiment FROM rule_hits "
        "WHERE rule_id = ? AND published_at > ? AND published_at <= ?",
        (rule_id, start, end),
    )
    add_hours(store, hour_sums(rows, {rule_id: cut}))
