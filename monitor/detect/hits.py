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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from monitor import __version__
from monitor.clock import monotonic
from monitor.config.rules import Rule, leaves
from monitor.detect.matching import group_key, selects
from monitor.detect.window import HOUR, Aggregate, Observation, hour_of, units
from monitor.models import ScoredItem

log = logging.getLogger(__name__)

HitRow = tuple[str, str, str, float, str, int, int, float | None, int | None]
"""One stored hit: rule id, source, item id, published at, group, marks, count, sentiment, story id."""
HourKey = tuple[str, str, float, int]
"""One hourly sum's key: rule id, group, hour (its end), condition bit."""
HourRow = tuple[str, int, float, int, int, int, int]
"""One stored hourly sum: group, bit, hour, count, negative, scored, sentiment units."""
EdgeRow = tuple[int, str, int, int, int, int, int]
"""Hits of one span summed: the span's index, group, marks, count, negative, scored, sentiment units."""
HourSums = dict[str, dict[int, dict[float, Aggregate]]]
"""Group -> condition bit -> hour (its end, epoch seconds) -> sums."""
EdgeSums = dict[str, dict[int, dict[tuple[float, float], Aggregate]]]
"""Group -> condition bit -> span (its ends, epoch seconds) -> sums of its hits."""

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


class HitStore(Protocol):
    """What the hit book needs of the store (``monitor.store.hit_rows`` keeps the rows)."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def lock_hits(self, *, exclusive: bool) -> None: ...

    def items_between(self, sources: Sequence[str] | None, start: datetime, end: datetime) -> list[ScoredItem]: ...

    def add_hits(self, rows: Sequence[HitRow]) -> int: ...

    def hit_rows(
        self, rule_id: str, start: float, end: float, groups: Collection[str] | None = None
    ) -> list[HitRow]: ...

    def hit_buckets(
        self, rule_id: str, marks: int, start: float, end: float, size: float, cut: float, stories: bool
    ) -> list[tuple[str, float, Aggregate]]: ...

    def hit_span(self, rule_id: str) -> tuple[float, float] | None: ...

    def hit_totals(
        self, rule_id: str, marks: int, start: float, end: float, cut: float, groups: Collection[str]
    ) -> dict[str, Aggregate]: ...

    def touch_rule_groups(self, latest: Mapping[tuple[str, str], float]) -> None: ...

    def rule_groups_since(self, rule_id: str, start: float) -> list[tuple[str, float]]: ...

    def group_has_hit(self, rule_id: str, group: str, start: float, end: float) -> bool: ...

    def add_rule_hours(self, sums: Mapping[HourKey, Aggregate]) -> None: ...

    def rule_hours_with_edges(
        self, rule_id: str, start: float, end: float, spans: Sequence[tuple[float, float]], cut: float
    ) -> tuple[list[HourRow], list[EdgeRow]]: ...

    def clear_rule_hours(self, rule_id: str, start: float, end: float) -> None: ...

    def hits_built(self, rule_id: str) -> tuple[str, float] | None: ...

    def set_hits_built(self, rule_id: str, fingerprint: str, since: float, built_at: float) -> None: ...

    def hours_built(self, rule_id: str) -> str | None: ...

    def set_hours_built(self, rule_id: str, fingerprint: str) -> None: ...

    def forget_hours(self, rule_id: str) -> None: ...

    def forget_hits(self, rule_id: str) -> None: ...


class HitReader(Protocol):
    """Where evaluation reads a rule's hits in ``(start, end]`` (of ``groups``; None: all),
    oldest first, and which groups have hits there (None: not known without reading them all)."""

    def hits_between(
        self, rule: Rule, start: datetime, end: datetime, groups: Collection[str] | None = None
    ) -> list[Hit]: ...

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

    def hits_between(
        self, rule: Rule, start: datetime, end: datetime, groups: Collection[str] | None = None
    ) -> list[Hit]:
        found = (hit_of(rule, s) for s in self.items.items_between(rule.all_sources() or None, start, end))
        return [h for h in found if h is not None and (groups is None or h.group in groups)]

    def groups_between(self, rule: Rule, start: datetime, end: datetime) -> set[str] | None:
        return None


class HitBook:
    """The stored hits of the current rules: written at ingest, rebuilt when a rule changes,
    read by evaluation. ``rules()`` gives the rules in force (it follows hot reloads)."""

    def __init__(self, store: HitStore, rules: Callable[[], Sequence[Rule]], cut: float | None = None) -> None:
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
        rows: list[HitRow] = []
        cuts: dict[str, float] = {}
        with self.store.transaction():  # the rules are read under the store's lock (see rebuild)
            self.store.lock_hits(exclusive=False)  # intake may write on a connection of its own
            for rule in self.rules():
                cut = self.cut_of(rule)
                if cut is not None:
                    cuts[rule.id] = cut
                for s in scored:
                    hit = hit_of(rule, s)
                    if hit is not None:
                        rows.append(hit_row(rule.id, hit))
            added = self.store.add_hits(rows)
            self.store.touch_rule_groups(latest_hits(rows))
            if cuts and added == len(rows):  # all new: their sums add to the hours'
                self.store.add_rule_hours(hour_sums([r for r in rows if r[0] in cuts], cuts))
            elif cuts:  # some were stored already (a replay): the touched hours summed again
                touched = {(r[0], hour_of(r[3])) for r in rows if r[0] in cuts}
                for rule_id, hour in sorted(touched):
                    sum_hours(self.store, rule_id, cuts[rule_id], hour - HOUR, hour)
        return len(rows)

    def hours_between(
        self, rule: Rule, start: datetime, end: datetime, spans: Collection[tuple[float, float]] = ()
    ) -> tuple[HourSums, EdgeSums]:
        """The rule's hourly sums of the hours ending in ``(start, end]`` (group -> bit -> hour ->
        sums), and its hits summed over each of ``spans`` (``(start, end]`` in epoch seconds;
        group -> bit -> span -> sums; a span with no hit of a group is not there), as one
        snapshot (call ``ensure`` first)."""
        hours: HourSums = {}
        edges: EdgeSums = {}
        asked = sorted(spans)
        rows, summed = self.store.rule_hours_with_edges(
            rule.id, start.timestamp(), end.timestamp(), asked, self.cut_of(rule) or 0.0
        )
        for group, bit, hour, count, negative, scored, sentiment in rows:
            hours.setdefault(group, {}).setdefault(bit, {})[hour] = Aggregate(count, negative, scored, sentiment)
        for index, group, marks, count, negative, scored, sentiment in summed:
            part = Aggregate(count, negative, scored, sentiment)
            by_bit = edges.setdefault(group, {})
            bit = 2
            while bit <= marks:
                if marks & bit:
                    kept = by_bit.setdefault(bit, {}).get(asked[index])
                    by_bit[bit][asked[index]] = part if kept is None else kept.plus(part)
                bit <<= 1
        return hours, edges

    # -- evaluation ----------------------------------------------------------------------

    def hits_between(
        self, rule: Rule, start: datetime, end: datetime, groups: Collection[str] | None = None
    ) -> list[Hit]:
        """The stored hits (call ``ensure`` first, at the evaluation's time)."""
        return [_hit(row) for row in self.store.hit_rows(rule.id, start.timestamp(), end.timestamp(), groups)]

    def totals_between(
        self, rule: Rule, marks: int, start: datetime, end: datetime, cut: float, groups: Collection[str]
    ) -> dict[str, Aggregate]:
        """Per group of ``groups``, the totals of the stored hits with any of ``marks`` in
        ``(start, end]``, counted by the database (``sentiment_units`` aside: 0)."""
        if not groups:
            return {}
        return self.store.hit_totals(rule.id, marks, start.timestamp(), end.timestamp(), cut, groups)

    def buckets_between(
        self, rule: Rule, marks: int, start: datetime, end: datetime, cut: float, stories: bool
    ) -> dict[str, dict[float, Aggregate]]:
        """Per group, the totals of each of the rule's buckets (``rule.bucket``, keyed by its end in
        epoch seconds) of its stored hits with any of ``marks`` in ``(start, end]``, counted by
        the database (distinct stories only when ``stories``)."""
        found: dict[str, dict[float, Aggregate]] = {}
        size = rule.bucket.total_seconds()
        for group, bucket_end, totals in self.store.hit_buckets(
            rule.id, marks, start.timestamp(), end.timestamp(), size, cut, stories
        ):
            found.setdefault(group, {})[bucket_end] = totals
        return found

    def groups_between(self, rule: Rule, start: datetime, end: datetime) -> set[str] | None:
        """The groups with a hit in ``(start, end]``: ``rule_groups`` has each group's latest
        hit; a group whose latest is after ``end`` (items arriving during an evaluation, or
        dated ahead) is looked up in ``rule_hits``."""
        low, high = start.timestamp(), end.timestamp()
        return {
            group
            for group, last_at in self.store.rule_groups_since(rule.id, low)
            if last_at <= high or self.store.group_has_hit(rule.id, group, low, high)
        }

    def ensure(self, rules: Sequence[Rule], now: datetime) -> None:
        """Rebuild the hits of rules added or edited since they were built (or whose lookback
        now reaches before what was built), and their hourly sums."""
        stale = self.stale(rules, now)
        if stale:
            self.rebuild(stale, now)
        if self.cut is None:
            return
        for rule in rules:
            if not self.hours_ready(rule):
                hours_fp = hours_fingerprint(rule, self.cut_of(rule) or 0.0)
                self.build_hours(rule, hours_fp)
                self._hours_built[rule.id] = hours_fp

    def stale(self, rules: Iterable[Rule], now: datetime) -> list[tuple[Rule, str]]:
        """The rules whose stored hits were built for another version of them, or not far
        enough back, with their fingerprint now."""
        stale: list[tuple[Rule, str]] = []
        for rule in rules:
            fp = fingerprint(rule)
            start = (now - rule.lookback()).timestamp()
            known = self._built.get(rule.id)
            if known is None or known[0] != fp:
                known = self.store.hits_built(rule.id)
                if known is not None:
                    self._built[rule.id] = known
            if known is None or known[0] != fp or known[1] > start:
                stale.append((rule, fp))
        return stale

    def hours_ready(self, rule: Rule) -> bool:
        """Whether the rule's hourly sums are built for its hits and cut (always, keeping none)."""
        if self.cut is None:
            return True
        hours_fp = hours_fingerprint(rule, self.cut_of(rule) or 0.0)
        if self._hours_built.get(rule.id) == hours_fp:
            return True
        if self.store.hours_built(rule.id) != hours_fp:
            return False
        self._hours_built[rule.id] = hours_fp
        return True

    def ready(self, rule: Rule, now: datetime) -> bool:
        """Whether the rule's hits and sums are built for the rule as it is (``ensure`` builds them)."""
        return not self.stale([rule], now) and self.hours_ready(rule)

    def build_hours(self, rule: Rule, hours_fp: str) -> None:
        """Sum the rule's stored hits per group, hour and condition again, a day at a time
        (each day its own transaction; what ingest adds meanwhile is counted once: into an
        hour summed already it adds, into one not yet summed it is summed with the rest; a
        day is summed under ``lock_hits``, so no ingest on another connection commits hits
        between the sum and its storing)."""
        cut = self.cut_of(rule) or 0.0
        started = monotonic()
        with self.store.transaction():
            self.store.forget_hours(rule.id)
            self._hours_built.pop(rule.id, None)
            span = self.store.hit_span(rule.id)
        if span is not None:
            edge, last = hour_of(span[0]) - HOUR, hour_of(span[1])
            log.info("summing the hits of rule %s per hour (%d day(s))", rule.id, -(-(last - edge) // 86400))
            while edge < last:
                upper = min(edge + 86400.0, last)
                with self.store.transaction():
                    self.store.lock_hits(exclusive=True)  # no hits added meanwhile: counted once
                    sum_hours(self.store, rule.id, cut, edge, upper)
                edge = upper
        with self.store.transaction():
            self.store.set_hours_built(rule.id, hours_fp)
        log.info("summed the hits of rule %s per hour in %.1fs", rule.id, monotonic() - started)

    def rebuild(self, stale: Sequence[tuple[Rule, str]], now: datetime) -> None:
        """Match the stored items of the rules' lookback again, an hour at a time (each hour
        its own transaction: intake goes on meanwhile and records its own hits, with the rules
        as they are now: the old hits are forgotten under ``lock_hits``, after every ingest
        that matched with the rules as they were has committed)."""
        since = min(now - rule.lookback() for rule, _ in stale)
        names = ", ".join(rule.id for rule, _ in stale)
        started = monotonic()
        with self.store.transaction():
            self.store.lock_hits(exclusive=True)  # hits recorded with the rule as it was are all stored
            for rule, _ in stale:
                self.store.forget_hits(rule.id)
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
                            rows.append(hit_row(rule.id, hit))
                self.store.add_hits(rows)
                self.store.touch_rule_groups(latest_hits(rows))
            found += len(rows)
            edge, done = upper, min(done + 1, chunks)
            if done * 10 // chunks > reported:
                reported = done * 10 // chunks
                log.info("rebuilding %s: %d%% (%d of %d hours, %d hits)", names, reported * 10, done, chunks, found)
        with self.store.transaction():
            for rule, fp in stale:
                start = (now - rule.lookback()).timestamp()
                self.store.set_hits_built(rule.id, fp, start, now.timestamp())
                self._built[rule.id] = (fp, start)
        log.info("rebuilt %s: %d hits in %.1fs", names, found, monotonic() - started)


def _hit(row: HitRow) -> Hit:
    _, source, item_id, at, group, marks, count, sentiment, story = row
    return Hit(source, item_id, group, marks, Observation(datetime.fromtimestamp(at, UTC), count, sentiment, story))


def hit_row(rule_id: str, hit: Hit) -> HitRow:
    """The hit as the store keeps it."""
    o = hit.obs
    return (rule_id, hit.source, hit.item_id, o.at.timestamp(), hit.group, hit.marks, o.count, o.sentiment, o.story)


def latest_hits(rows: Iterable[HitRow]) -> dict[tuple[str, str], float]:
    """Each (rule, group)'s latest hit among ``rows``."""
    latest: dict[tuple[str, str], float] = {}
    for row in rows:
        key, at = (row[0], row[4]), row[3]
        if at > latest.get(key, float("-inf")):
            latest[key] = at
    return latest


def hours_fingerprint(rule: Rule, cut: float) -> str:
    """What decides a rule's hourly sums: its hits and the negative cut."""
    return f"{fingerprint(rule)}:{cut!r}"


def hour_sums(rows: Iterable[HitRow], cuts: dict[str, float]) -> dict[HourKey, Aggregate]:
    """Hit rows summed per (rule, group, hour, condition bit); ``cuts``: each rule's cut."""
    sums: dict[HourKey, Aggregate] = {}
    for rule_id, _, _, at, group, marks, count, sentiment, _ in rows:
        if sentiment is None:
            part = Aggregate(count)
        else:
            part = Aggregate(count, count if sentiment < cuts[rule_id] else 0, count, units(sentiment) * count)
        hour = hour_of(at)
        bit = 2
        while bit <= marks:
            if marks & bit:
                key = (rule_id, group, hour, bit)
                kept = sums.get(key)
                sums[key] = part if kept is None else kept.plus(part)
            bit <<= 1
    return sums


def sum_hours(store: HitStore, rule_id: str, cut: float, start: float, end: float) -> None:
    """Sum the rule's stored hits of the hours ending in ``(start, end]`` (whole hours) again."""
    store.clear_rule_hours(rule_id, start, end)
    store.add_rule_hours(hour_sums(store.hit_rows(rule_id, start, end), {rule_id: cut}))
