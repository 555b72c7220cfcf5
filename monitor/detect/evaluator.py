"""Evaluate rules over stored items: one Signal per (rule, group) that is not inactive."""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from monitor.clock import monotonic
from monitor.config.durations import format_duration
from monitor.config.rules import Anomaly, Immediate, Rule, Spike, leaves
from monitor.detect.anomaly import AnomalyDetector
from monitor.detect.conditions import Leaf, Observe, Series, compare, evaluate, feed_totals
from monitor.detect.evidence import (
    Summary,
    TermBaseline,
    lead_hit,
    summarise,
    term_baseline,
    top_hits,
    top_item,
    words_baseline,
)
from monitor.detect.hits import OWN, EdgeSums, Hit, HitBook, HitReader, HourSums, MatchedHits, leaf_bits
from monitor.detect.matching import group_key, selected_by_any
from monitor.detect.rebuilds import Rebuilds
from monitor.detect.running import DetectorMemo, DetectorStore, MemoKey, Running, running_from_state, running_state
from monitor.detect.severity import rank
from monitor.detect.state import RuleState, step
from monitor.detect.window import SUMMABLE, Aggregate, Counted, Hourly, Observation, aggregate, hour_of
from monitor.models import Evidence, ScoredItem, Signal, SignalState, TopItem

log = logging.getLogger(__name__)


class RuleStateStore(Protocol):
    """Where the evaluator keeps each (rule, group) state, and reads items."""

    def put_rule_state(self, rule_id: str, group: str, state: RuleState) -> None: ...

    def rule_states(self, rule_id: str) -> dict[str, RuleState]: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def items_between(self, sources: Sequence[str] | None, start: datetime, end: datetime) -> list[ScoredItem]: ...

    def earliest_item(self, sources: Sequence[str] | None) -> datetime | None: ...


TOP_ITEMS = 5
TERM_BASELINE = timedelta(hours=24)
TERM_BASELINE_ITEMS = 50_000
"""At most this many items (the latest) make a term baseline: its cost and memory stay bounded
however busy the day before was (a day of 10M items over 4 weeks holds 360,000)."""
WARM_CHUNK = timedelta(days=1)
SAVE_EVERY = timedelta(minutes=10)
"""How often each running anomaly detector is saved (``saved``): a restart feeds it at most
this much more than a daemon that never stopped, instead of replaying its whole history."""


class ItemReader(Protocol):
    """Where evaluation reads items: the store, or items held in memory (rule tests)."""

    def items_between(self, sources: Sequence[str] | None, start: datetime, end: datetime) -> list[ScoredItem]: ...

    def earliest_item(self, sources: Sequence[str] | None) -> datetime | None: ...


@runtime_checkable
class StoredItems(Protocol):
    """An item reader that also reads items by key and only the words of items (the store):
    evaluation then loads no more of them than it needs."""

    def items_of(self, source: str, ids: Sequence[str]) -> list[ScoredItem]: ...

    def item_words_between(
        self, sources: Sequence[str] | None, start: datetime, end: datetime, limit: int | None = None
    ) -> Iterator[tuple[str, str, int | None, str | None]]: ...


def stored_items(store: StoredItems, keys: Iterable[tuple[str, str]]) -> list[ScoredItem]:
    """The stored items of ``keys`` (source, id), oldest first."""
    by_source: dict[str, list[str]] = {}
    for source, item_id in keys:
        by_source.setdefault(source, []).append(item_id)
    found = []
    for source, ids in sorted(by_source.items()):
        for start in range(0, len(ids), 500):
            found.extend(store.items_of(source, ids[start : start + 500]))
    return sorted(found, key=lambda s: (s.item.published_at, s.item.source, s.item.id))


class SortedItems:
    """Items held in memory, sorted by publication time, read by bisection."""

    def __init__(self, items: Sequence[ScoredItem]) -> None:
        self._items = sorted(items, key=lambda s: (s.item.published_at, s.item.source, s.item.id))
        self._times = [s.item.published_at for s in self._items]

    def items_between(self, sources: Sequence[str] | None, start: datetime, end: datetime) -> list[ScoredItem]:
        window = self._items[bisect.bisect_right(self._times, start) : bisect.bisect_right(self._times, end)]
        return [s for s in window if not sources or s.item.source in sources]

    def earliest_item(self, sources: Sequence[str] | None) -> datetime | None:
        return next((s.item.published_at for s in self._items if not sources or s.item.source in sources), None)


class Evaluator:
    """Evaluates rules at a given time and persists each (rule, group)'s state."""

    def __init__(
        self,
        store: RuleStateStore,
        default_cut: float,
        sources_down: Callable[[datetime], set[str]] = lambda now: set(),
        history_start: datetime | None = None,
        items: ItemReader | None = None,
        timed: Callable[[str, float, datetime], None] | None = None,
        hits: HitReader | None = None,
        saved: DetectorStore | None = None,
        rebuilds: Rebuilds | None = None,
    ) -> None:
        """``history_start`` overrides when data begins (rule tests); else the oldest item.
        ``timed(rule_id, seconds, now)`` is told how long each rule's evaluation took (metrics).
        ``hits``: where each rule's hits are read (``monitor.detect.hits``: the daemon's stored ones);
        by default they are matched from ``items``. ``saved``: where running anomaly detectors
        are saved every ``SAVE_EVERY`` and restored from after a restart (the daemon's store).
        ``rebuilds``: edited rules' hits are rebuilt in the background and the rules left out
        of ``prepare``'s rounds meanwhile (the daemon), instead of rebuilt before the round."""
        self.store = store
        self.default_cut = default_cut
        self.sources_down = sources_down
        self.history_start = history_start
        self.items: ItemReader = items or store
        self.detectors = DetectorMemo()
        self.timed = timed
        self.hits: HitReader = hits or MatchedHits(self.items)
        self._baselines: dict[tuple[tuple[str, ...], datetime], TermBaseline] = {}
        self.saved = saved
        self.rebuilds = rebuilds
        self._saved_at: dict[MemoKey, datetime] = {}
        self._restored: set[str] = set()

    def summary(self, rule: Rule, items: Sequence[ScoredItem], now: datetime) -> Summary:
        """What is spreading in the rule's window, terms against the ``TERM_BASELINE`` before the
        hour the window starts in, its latest ``TERM_BASELINE_ITEMS`` items at most (computed once
        an hour per set of sources, not every round)."""
        start = now - rule.window
        current = [s for s in items if s.item.published_at > start]
        sources = rule.all_sources()
        edge = datetime.fromtimestamp(start.timestamp() // 3600 * 3600, start.tzinfo)
        key = (sources, edge)
        baseline = self._baselines.get(key)
        if baseline is None:
            since = edge - TERM_BASELINE
            if isinstance(self.items, StoredItems):  # only each item's story and words
                rows = self.items.item_words_between(sources or None, since, edge, TERM_BASELINE_ITEMS)
                baseline = words_baseline(rows)
            else:
                baseline = term_baseline(self.items.items_between(sources or None, since, edge)[-TERM_BASELINE_ITEMS:])
            if len(self._baselines) >= 16:  # a few windows and source sets; the oldest hours go first
                for old in sorted(self._baselines, key=lambda k: k[1])[:8]:
                    del self._baselines[old]
            self._baselines[key] = baseline
        return summarise(current, baseline)

    def evaluate(self, rules: Sequence[Rule], now: datetime) -> list[Signal]:
        down = self.sources_down(now)
        signals: list[Signal] = []
        for rule in rules:
            signals.extend(self.evaluate_timed(rule, now, down))
        self.finish(now)
        return signals

    def evaluate_timed(self, rule: Rule, now: datetime, down: set[str]) -> list[Signal]:
        """``evaluate_rule``, telling ``timed`` how long it took."""
        started = monotonic()
        try:
            return self.evaluate_rule(rule, now, down)
        finally:
            if self.timed is not None:
                self.timed(rule.id, monotonic() - started, now)

    def prepare(self, rules: Sequence[Rule], now: datetime) -> list[Rule]:
        """Before a round: rebuild the stored hits of rules added or edited since (``monitor.detect.hits``;
        with ``rebuilds``, in the background: those rules are left out until they are built),
        and start the ``anomaly`` detectors not running (``warm``), each day of their history
        its own transaction, so that intake goes on meanwhile. The rules to evaluate now."""
        ready = self.built(rules, now)
        for rule in ready:
            if any(isinstance(leaf, Anomaly) for leaf in leaves(rule.condition)):
                self.warm_if_cold(rule, now)
        return ready

    def built(self, rules: Sequence[Rule], now: datetime) -> list[Rule]:
        """The rules whose stored hits are built (rebuilt here, or with ``rebuilds`` in the
        background); all of them when hits are matched from items."""
        if not isinstance(self.hits, HitBook):
            return list(rules)
        if self.rebuilds is not None:
            return self.rebuilds.ready(rules, now)
        self.hits.ensure(rules, now)
        return list(rules)

    def warm_if_cold(self, rule: Rule, now: datetime) -> None:
        """``warm`` the rule's anomaly detectors unless they are all running (``read_since``)."""
        cut = rule.negative_below or self.default_cut
        states = set(self.store.rule_states(rule.id))
        hourly = isinstance(self.hits, HitBook) and self.hits.cut_of(rule) == cut
        if self.read_since(rule, now, states, hourly) == now - rule.lookback():
            history_since = self.history_start or self.items.earliest_item(rule.all_sources() or None)
            self.warm(rule, now, states, history_since, cut)

    def finish(self, now: datetime) -> None:
        """After a round of evaluations: forget the running detectors of rules no longer evaluated,
        and save those not saved for ``SAVE_EVERY``."""
        self.detectors.forget_stale(now)
        if self.saved is None:
            return
        due: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
        for key, running in self.detectors.items():
            rule_id, group, leaf = key
            if (
                isinstance(leaf, Anomaly)
                and now - self._saved_at.get(key, datetime.min.replace(tzinfo=UTC)) >= SAVE_EVERY
            ):
                due[rule_id][(group, leaf.model_dump_json())] = running_state(running)
                self._saved_at[key] = now
        for rule_id, states in sorted(due.items()):
            with self.store.transaction():
                self.saved.put_detector_states(rule_id, states, now)

    def restore(self, rule: Rule, anomalies: Sequence[Anomaly]) -> None:
        """Once per rule: the running detectors saved for it (``saved``), unless one is running
        here already. A detector saved with other parameters is left for a replay."""
        if self.saved is None or rule.id in self._restored:
            return
        saved = self.saved.detector_states(rule.id)  # a database error: tried again next round
        self._restored.add(rule.id)
        specs = {leaf.model_dump_json(): leaf for leaf in anomalies}
        for (group, spec), state in saved.items():
            leaf = specs.get(spec)
            key = (rule.id, group, leaf)
            if leaf is None or self.detectors.get(key) is not None:
                continue
            try:
                running = running_from_state(leaf.params(rule.bucket), leaf.history, state)
            except ValueError as exc:
                log.info(
                    "rule %s group %s: saved anomaly detector not used (%s); replaying its history", rule.id, group, exc
                )
                continue
            self.detectors.put(key, running)
            self._saved_at[key] = running.edge

    def evaluate_rule(self, rule: Rule, now: datetime, down: set[str]) -> list[Signal]:
        cut = rule.negative_below or self.default_cut
        sources = rule.all_sources()
        if not self.built([rule], now):  # done already for a round (``Engine.evaluate``): then a lookup
            return []  # its hits are being rebuilt (``rebuilds``)
        states = self.store.rule_states(rule.id)
        history_since = self.history_start or self.items.earliest_item(sources or None)
        hourly = isinstance(self.hits, HitBook) and self.hits.cut_of(rule) == cut
        since = self.read_since(rule, now, set(states), hourly)
        if since == now - rule.lookback():  # anomaly detectors to start (a round's ``prepare`` did it first)
            self.warm(rule, now, set(states), history_since, cut)
            since = self.read_since(rule, now, set(states), hourly)
        upto = self.read_until(rule, now, hourly)
        groups: dict[str, list[Hit]] = defaultdict(list)
        for hit in self.hits.hits_between(rule, since, upto):
            groups[hit.group].append(hit)
        known = self.hits.groups_between(rule, now - rule.lookback(), now)
        for group in known or ():
            groups.setdefault(group, [])
        every = sorted(set(groups) | set(states))
        sums = self.sums(rule, now) if hourly and isinstance(self.hits, HitBook) else None
        counts = Counts(self.hits, rule, cut, every) if hourly and isinstance(self.hits, HitBook) else None
        fed_by_down = bool(down & set(sources)) if sources else bool(down)
        bits = leaf_bits(rule)
        stepped: list[tuple[str, bool, tuple[Evidence, ...], RuleState, RuleState]] = []
        for group in every:
            observe = observer(
                bits,
                groups.get(group, []),
                None if sums is None else sums.of(group, cut),
                None if counts is None else counts.of(group, bits),
            )
            verdict = evaluate(rule.condition, observe, now, rule, cut, history_since, self.detectors, group)
            prev = states.get(group, RuleState())
            state = step(prev, verdict.holds, now, rule.for_, rule.keep_firing_for, hold_resolution=fed_by_down)
            stepped.append((group, verdict.holds, verdict.evidence, prev, state))
        counted = counts is not None and all(e.metric != "mean_sentiment" for e in rule.severity.escalate)
        escalates = bool(rule.severity.escalate) and not counted  # else severity is counted, not read
        wanted = {g for g, holds, _, _, state in stepped if (holds and escalates) or state.state == SignalState.FIRING}
        window = self.window_hits(rule, now, since if upto == now else now, groups, wanted)
        signals = []
        for group, holds, evidence, prev, state in stepped:
            grouped = window.get(group, [])
            own = [h for h in grouped if h.marks & OWN]  # the rule's own selection: severity, evidence
            severity = prev.severity
            if holds and not rule.severity.escalate:
                severity = rule.severity.default
            elif holds and counts is not None and counted:
                severity = severity_at(rule, counts.totals(OWN, now - rule.window, now).get(group, Aggregate()))
            elif holds:
                severity = severity_of(rule, [h.obs for h in own], now, cut)
            state = RuleState(state.state, state.pending_since, state.firing_since, state.last_true_at, severity)
            self.store.put_rule_state(rule.id, group, state)
            if state.state == prev.state == SignalState.INACTIVE:
                continue
            firing = state.state == SignalState.FIRING
            signals.append(
                Signal(
                    rule_id=rule.id,
                    group=group,
                    state=state.state,
                    at=now,
                    holds=holds,
                    severity=severity or rule.severity.default,
                    evidence=evidence,
                    top_items=self.top_items(rule, own or grouped, now) if firing else (),
                    summary=self.summary(rule, self.window_items(rule, own or grouped, now), now) if firing else None,
                    transitioned=state.state != prev.state,
                    since=state.firing_since,
                )
            )
        return signals

    def window_hits(
        self, rule: Rule, now: datetime, since: datetime, read: dict[str, list[Hit]], groups: set[str]
    ) -> dict[str, list[Hit]]:
        """The hits of the rule's window for ``groups`` (those that fire, for their evidence, and
        those that hold, when the rule's severity escalates): from the hits ``read`` since ``since``
        when they cover the window, else read for these groups only (conditions on hourly sums
        read no window of hits)."""
        start = now - rule.window
        if since <= start or not groups:
            return {g: [h for h in read.get(g, []) if h.obs.at > start] for g in groups}
        found: dict[str, list[Hit]] = defaultdict(list)
        for hit in self.hits.hits_between(rule, start, now, groups):
            found[hit.group].append(hit)
        return found

    def top_items(self, rule: Rule, hits: Sequence[Hit], now: datetime) -> tuple[TopItem, ...]:
        """The evidence for the alert: each story of the window once, most negative first
        (``monitor.detect.evidence.top_stories``), chosen from the hits; only the items that
        lead the chosen stories are read."""
        chosen = top_hits(hits, now - rule.window, TOP_ITEMS)
        leads = [lead_hit(story) for story in chosen]
        items = {(s.item.source, s.item.id): s for s in self.items_by_key(rule, leads, now)}
        return tuple(top_item(items[key], story) for key, story in zip(leads, chosen, strict=True) if key in items)

    def read_since(self, rule: Rule, now: datetime, states: set[str], hourly: bool = False) -> datetime:
        """Since when the rule's hits must be read: its whole lookback, or, when every group's
        ``anomaly`` detectors are running (``monitor.detect.running``), only what they have
        not seen and what the other conditions' windows need. Exact: a running detector is
        fed only buckets after its edge, whatever it is given. ``hourly``: conditions on a
        summable metric read stored hourly sums and their edges (``sums``), not this."""
        full = now - rule.lookback()
        spans = [
            _span(leaf, rule.window)
            for leaf in leaves(rule.condition)
            if not (hourly and (summable(leaf) or countable(leaf)))
        ]
        since = now - max(spans, default=timedelta(0))  # severity and evidence: ``window_hits``
        anomalies = [leaf for leaf in leaves(rule.condition) if isinstance(leaf, Anomaly)]
        if not anomalies:
            return max(full, since) if hourly else full
        self.restore(rule, anomalies)
        groups = self.hits.groups_between(rule, full, now)
        if groups is None:
            return full
        for group in groups | states:
            for leaf in anomalies:
                kept = self.detectors.get((rule.id, group, leaf))
                if (
                    kept is None
                    or kept.params != leaf.params(rule.bucket)
                    or not now - leaf.history <= kept.edge <= now
                ):
                    return full
                since = min(since, kept.edge)
        return max(full, since)

    def warm(self, rule: Rule, now: datetime, states: set[str], history_since: datetime | None, cut: float) -> None:
        """Start the rule's ``anomaly`` detectors where one evaluation at ``now`` would (``start``
        of the history) and feed them the history a day at a time (each day one transaction),
        up to the last bucket before ``now``: the same buckets in the same order as one replay,
        without holding the whole history in memory. Only with stored hits (their groups are
        known): the database totals each bucket (``HitBook.buckets_between``), no hit is read."""
        anomalies = [leaf for leaf in leaves(rule.condition) if isinstance(leaf, Anomaly)]
        groups = self.hits.groups_between(rule, now - rule.lookback(), now) if anomalies else None
        if groups is None or not isinstance(self.hits, HitBook):
            return
        groups |= states
        bits = leaf_bits(rule)
        size = rule.bucket.total_seconds()
        started = monotonic()
        longest = max(leaf.history for leaf in anomalies)
        log.info(
            "rule %s: starting %d anomaly detector(s) from up to %s of stored history (no running or saved one)",
            rule.id,
            len(groups) * len(anomalies),
            format_duration(longest),
        )
        for leaf in anomalies:
            begin = max(now - leaf.history, history_since) if history_since else now
            params = leaf.params(rule.bucket)
            for group in groups:
                self.detectors.put(
                    (rule.id, group, leaf), Running(params, AnomalyDetector(params), begin, leaf.history)
                )
            edge = begin
            while True:
                ahead = min(edge + WARM_CHUNK, now).timestamp() // size * size
                end = datetime.fromtimestamp(ahead, now.tzinfo)
                if end <= edge:
                    break
                with self.store.transaction():
                    stories = leaf.metric in ("stories", "negative_stories")
                    totals = self.hits.buckets_between(rule, bits[id(leaf)], edge, end, cut, stories)
                for group in groups:
                    running = self.detectors.get((rule.id, group, leaf))
                    assert running is not None  # put above
                    feed_totals(leaf, running, totals.get(group, {}), end, rule.bucket)
                edge = end
        log.info("rule %s: anomaly detector(s) started in %.1fs", rule.id, monotonic() - started)

    def read_until(self, rule: Rule, now: datetime, hourly: bool) -> datetime:
        """Until when the hits read since ``read_since`` go: ``now``, or, when only ``anomaly``
        conditions read them (the others read sums or totals), the end of the last completed
        bucket: a detector is fed completed buckets only, so the open one's hits are not read."""
        if not hourly or any(not isinstance(leaf, Anomaly) for leaf in _read_leaves(rule)):
            return now
        size = rule.bucket.total_seconds()
        return datetime.fromtimestamp(now.timestamp() // size * size, now.tzinfo)

    def sums(self, rule: Rule, now: datetime) -> RuleSums:
        """What the rule's conditions on a summable metric read: the stored sums of the hours
        their windows touch, and the hits of ``(start, hour_of(start)]`` and ``(end,
        hour_of(end)]`` of each window summed by the database (``Hourly``): no hits read,
        whatever the windows' length and however many hits an hour holds."""
        assert isinstance(self.hits, HitBook)
        edges: set[tuple[float, float]] = set()
        low: datetime | None = None
        high: datetime | None = None
        for leaf in leaves(rule.condition):
            if not summable(leaf):
                continue
            for start, end in windows(leaf, rule.window, now):
                first = _hour_after(start)
                last = _hour_after(end)
                edges |= {(a.timestamp(), b.timestamp()) for a, b in ((start, first), (end, last)) if a < b}
                low = first if low is None else min(low, first)
                high = last if high is None else max(high, last)
        if low is None or high is None:
            return RuleSums(leaf_bits(rule), {}, {}, edges)
        hours, summed = self.hits.hours_between(rule, low, high, edges)
        return RuleSums(leaf_bits(rule), summed, hours, edges)

    def window_items(self, rule: Rule, hits: Sequence[Hit], now: datetime) -> list[ScoredItem]:
        """The stored items of the hits in the rule's window (the summary)."""
        start = now - rule.window
        return self.items_by_key(rule, {(h.source, h.item_id) for h in hits if h.obs.at > start}, now)

    def items_by_key(self, rule: Rule, wanted: Collection[tuple[str, str]], now: datetime) -> list[ScoredItem]:
        """The items of ``wanted`` (source, id) in the rule's window, oldest first."""
        if not wanted:
            return []
        if isinstance(self.items, StoredItems):  # only these items, by key
            return stored_items(self.items, wanted)
        window = self.items.items_between(rule.all_sources() or None, now - rule.window, now)
        return [s for s in window if (s.item.source, s.item.id) in wanted]


class Counts:
    """One rule's hits totalled by the database (``HitBook.totals_between``) per (marks, window)
    for all of its groups at once, each asked once per evaluation: conditions on distinct
    stories and the severity read no hits."""

    def __init__(self, book: HitBook, rule: Rule, cut: float, groups: Collection[str]) -> None:
        self.book = book
        self.rule = rule
        self.cut = cut
        self.groups = groups
        self._done: dict[tuple[int, datetime, datetime], dict[str, Aggregate]] = {}

    def totals(self, marks: int, start: datetime, end: datetime) -> dict[str, Aggregate]:
        key = (marks, start, end)
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self.book.totals_between(self.rule, marks, start, end, self.cut, self.groups)
        return found

    def of(self, group: str, bits: dict[int, int]) -> Callable[[Leaf], Counted | None]:
        """For a group: a condition on distinct stories, counted (None for the others)."""

        def counted(leaf: Leaf) -> Counted | None:
            if not countable(leaf):
                return None
            bit = bits[id(leaf)]
            return Counted(lambda start, end: self.totals(bit, start, end).get(group, Aggregate()), self.cut)

        return counted


def _read_leaves(rule: Rule) -> list[Leaf]:
    """The rule's conditions that read hits when it has stored sums: neither summed nor counted."""
    return [leaf for leaf in leaves(rule.condition) if not (summable(leaf) or countable(leaf))]


def countable(leaf: Leaf) -> bool:
    """Whether the database counts the condition's totals (``Counts``): a threshold or spike
    on a metric that does not add up across hours (distinct stories)."""
    return not isinstance(leaf, Anomaly) and not summable(leaf)


class RuleSums:
    """One rule's stored hourly sums and summed window edges (``Evaluator.sums``)."""

    def __init__(
        self,
        bits: dict[int, int],
        edges: EdgeSums,
        hours: HourSums,
        asked: Collection[tuple[float, float]],
    ) -> None:
        self.bits = bits
        self.edges = edges
        self.hours = hours
        self.asked = asked

    def of(self, group: str, cut: float) -> Callable[[Leaf], Hourly | None]:
        """For a group: a summable leaf's ``Hourly`` (None for the other leaves)."""

        def hourly(leaf: Leaf) -> Hourly | None:
            if not summable(leaf):
                return None
            bit = self.bits[id(leaf)]
            summed = self.edges.get(group, {}).get(bit, {})
            edges = {span: summed.get(span, Aggregate()) for span in self.asked}  # no hit there: nothing
            return Hourly(edges, self.hours.get(group, {}).get(bit, {}), cut)

        return hourly


def summable(leaf: Leaf) -> bool:
    """Whether the condition's totals add up across hours (``monitor.detect.window.SUMMABLE``)."""
    if isinstance(leaf, Immediate):
        return True
    return not isinstance(leaf, Anomaly) and leaf.metric in SUMMABLE


def windows(leaf: Leaf, window: timedelta, now: datetime) -> list[tuple[datetime, datetime]]:
    """The ``(start, end]`` windows a threshold, spike or immediate condition totals at ``now``."""
    if isinstance(leaf, Anomaly):
        return []
    own = leaf.window or window
    if isinstance(leaf, Spike):
        return [(now - own, now), (now - own - leaf.baseline, now - own)]
    return [(now - own, now)]


def _hour_after(at: datetime) -> datetime:
    """The end of the hour ``at`` falls in (``monitor.detect.window.hour_of``): ``at`` itself on a whole hour."""
    return datetime.fromtimestamp(hour_of(at.timestamp()), at.tzinfo)


def _span(leaf: Leaf, window: timedelta) -> timedelta:
    """How far back a condition other than ``anomaly`` reads (0 for an anomaly: see ``read_since``)."""
    if isinstance(leaf, Anomaly):
        return timedelta(0)
    own = leaf.window or window
    return own + leaf.baseline if isinstance(leaf, Spike) else own


def observation(scored: ScoredItem) -> Observation:
    return Observation(scored.item.published_at, scored.item.count, scored.sentiment, scored.story)


def observer(
    bits: dict[int, int],
    grouped: Sequence[Hit],
    hourly: Callable[[Leaf], Hourly | None] | None = None,
    counted: Callable[[Leaf], Counted | None] | None = None,
) -> Observe:
    """Each condition's observations: the hits its own selection (or the rule's) counts
    (``bits``: ``monitor.detect.hits.leaf_bits``); ``hourly`` gives a summable condition's
    stored hourly sums instead (``RuleSums.of``), ``counted`` a condition on distinct stories
    its totals counted by the database (``Counts.of``)."""

    def observe(leaf: Leaf) -> Series:
        sums = None if hourly is None else hourly(leaf)
        if sums is not None:
            return sums
        totals = None if counted is None else counted(leaf)
        if totals is not None:
            return totals
        bit = bits[id(leaf)]
        return [h.obs for h in grouped if h.marks & bit]

    return observe


def group_items(rule: Rule, items: Sequence[ScoredItem]) -> dict[str, list[ScoredItem]]:
    """Items any of the rule's conditions counts, by group key."""
    groups: dict[str, list[ScoredItem]] = defaultdict(list)
    for scored in items:
        if not selected_by_any(rule, scored):
            continue
        key = group_key(rule.group_by, scored, keep_missing=rule.group_missing == "keep")
        if key is not None:
            groups[key].append(scored)
    return groups


def severity_of(rule: Rule, observations: Sequence[Observation], now: datetime, cut: float) -> str:
    return severity_at(rule, aggregate(observations, now - rule.window, now, cut))


def severity_at(rule: Rule, totals: Aggregate) -> str:
    """The rule's severity for these totals of its own selection over its window."""
    level = rule.severity.default
    for step_ in rule.severity.escalate:
        if compare(totals.metric(step_.metric), step_.op, step_.value) and rank(step_.level) > rank(level):
            level = step_.level
    return level
