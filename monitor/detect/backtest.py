"""Replay history through the current rules: when would each rule have fired and resolved?

A pure replay: items in, per-step verdicts and state transitions out. Nothing is written to
the daemon's database and nothing is sent.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config.rules import Rule
from monitor.detect.conditions import evaluate
from monitor.detect.evaluator import observer
from monitor.detect.hits import Hit, hit_of, leaf_bits
from monitor.detect.state import RuleState, step
from monitor.models import Item, ItemKind, ScoredItem, SignalState
from monitor.runtime.ingest import Ingestor
from monitor.sources.complaints import parse_record


@dataclass
class Episode:
    group: str
    fired_at: datetime
    resolved_at: datetime | None = None
    peak: float = 0.0


@dataclass
class RuleReplay:
    """One rule's replay: its firing episodes and, for the busiest group, the charted series."""

    rule: Rule
    episodes: list[Episode] = field(default_factory=list)
    chart_group: str = ""
    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    threshold: float | None = None
    metric: str = "count"


def load_items_jsonl(path: Path) -> tuple[list[tuple[Item, float | None]], list[str]]:
    """Items from a JSON Lines file: the complaints record format plus ``source`` (required),
    ``title``, ``url`` and an optional ``sentiment``. Bad lines are reported, not fatal."""
    items: list[tuple[Item, float | None]] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                problems.append(f"{path}:{number}: not JSON ({exc})")
                continue
            source = record.get("source") if isinstance(record, dict) else None
            if not isinstance(source, str) or not source:
                problems.append(f"{path}:{number}: source: found nothing, expected a source name")
                continue
            if record.get("id") in (None, ""):
                record["id"] = f"line-{number}"
            item, problem = parse_record(source, record)
            if item is None:
                problems.append(f"{path}:{number}: {problem}")
                continue
            title = record.get("title") or ""
            kind: ItemKind = "complaint" if record.get("category") or record.get("kind") == "complaint" else "post"
            item = Item(
                source=item.source,
                id=item.id,
                text=item.text,
                published_at=item.published_at,
                title=str(title),
                url=record.get("url"),
                kind=kind,
                category=item.category,
                attrs={**item.attrs, **_extra_attrs(record)},
            )
            sentiment = record.get("sentiment")
            items.append((item, float(sentiment) if isinstance(sentiment, int | float) else None))
    return items, problems


EXTRA_ATTRS = ("author", "user", "followers", "reach", "platform", "site")


def _extra_attrs(record: dict[str, Any]) -> dict[str, str]:
    """Author, reach and platform fields of a record, where it has them."""
    return {
        k: str(record[k])
        for k in EXTRA_ATTRS
        if isinstance(record.get(k), str | int | float) and not isinstance(record.get(k), bool) and record[k] != ""
    }


def ingest_items(loaded: Sequence[tuple[Item, float | None]], ingestor: Ingestor) -> list[ScoredItem]:
    """The items as the daemon would have stored them: through the ingest path (text
    prepared, language, sentiment unless given, category, product, stories)."""
    if not loaded:
        return []
    return ingestor.replay(loaded, max(i.published_at for i, _ in loaded))


def replay(
    rules: Sequence[Rule],
    scored: Sequence[ScoredItem],
    start: datetime,
    end: datetime,
    *,
    step_every: timedelta,
    default_cut: float,
    progress: Callable[[float], None] = lambda _: None,
    chart_group: str | None = None,
    history_since: datetime | None = None,
) -> list[RuleReplay]:
    """``chart_group`` picks the charted group (default: each rule's busiest);
    ``history_since`` when data begins (default: the first item)."""
    history_since = history_since or min((s.item.published_at for s in scored), default=None)
    results = []
    for index, rule in enumerate(rules):
        groups = _groups(rule, scored)
        results.append(_replay_rule(rule, groups, start, end, step_every, default_cut, history_since, chart_group))
        progress((index + 1) / len(rules))
    return results


def replay_hits(
    rule: Rule,
    hits: Sequence[Hit],
    start: datetime,
    end: datetime,
    *,
    step_every: timedelta,
    default_cut: float,
    chart_group: str | None = None,
    history_since: datetime | None = None,
) -> RuleReplay:
    """``replay`` of one rule from its hits (the stored ones: ``monitor.detect.hits.HitBook``),
    not from the items: the same steps, without reading or matching the items again."""
    return _replay_rule(rule, _grouped(hits), start, end, step_every, default_cut, history_since, chart_group)


def _replay_rule(
    rule: Rule,
    groups: dict[str, tuple[list[datetime], list[Hit]]],
    start: datetime,
    end: datetime,
    every: timedelta,
    default_cut: float,
    history_since: datetime | None,
    chart_group: str | None,
) -> RuleReplay:
    cut = rule.negative_below or default_cut
    lookback = rule.lookback()
    result = RuleReplay(rule)
    result.chart_group = (
        chart_group if chart_group is not None else max(groups, key=lambda g: len(groups[g][0]), default="")
    )
    bits = leaf_bits(rule)
    open_episodes: dict[str, Episode] = {}
    states: dict[str, RuleState] = defaultdict(RuleState)
    now = start
    while now <= end:
        for group, (times, grouped) in groups.items():
            window = grouped[bisect.bisect_right(times, now - lookback) : bisect.bisect_right(times, now)]
            verdict = evaluate(rule.condition, observer(bits, window), now, rule, cut, history_since)
            state = step(states[group], verdict.holds, now, rule.for_, rule.keep_firing_for)
            value = verdict.evidence[0].value if verdict.evidence else 0.0
            _track(result, open_episodes, group, states[group].state, state.state, now, value)
            states[group] = state
            if group == result.chart_group and verdict.evidence:
                first = verdict.evidence[0]
                result.times.append(now)
                result.values.append(first.value)
                result.baseline.append(first.baseline if first.baseline is not None else float("nan"))
                result.threshold = first.threshold if first.kind == "threshold" else result.threshold
                result.metric = first.metric
        now += every
    return result


def _track(
    result: RuleReplay,
    episodes: dict[str, Episode],
    group: str,
    before: SignalState,
    after: SignalState,
    now: datetime,
    value: float,
) -> None:
    if after == SignalState.FIRING and before != SignalState.FIRING:
        episodes[group] = Episode(group, now, peak=value)
        result.episodes.append(episodes[group])
    elif after == SignalState.FIRING:
        episodes[group].peak = max(episodes[group].peak, value)
    elif after == SignalState.RESOLVED and group in episodes:
        episodes.pop(group).resolved_at = now


def _groups(rule: Rule, scored: Sequence[ScoredItem]) -> dict[str, tuple[list[datetime], list[Hit]]]:
    """Each group's hits, sorted, with their times for bisecting."""
    return _grouped(matched_hits(rule, scored))


def matched_hits(rule: Rule, scored: Sequence[ScoredItem]) -> list[Hit]:
    """The hits of ``scored`` (the items any of the rule's conditions counts, ``monitor.detect.hits``):
    the same hits the live daemon records at ingest."""
    sources = set(rule.all_sources())
    found = (hit_of(rule, s) for s in scored if not sources or s.item.source in sources)
    return [h for h in found if h is not None]


def _grouped(hits: Sequence[Hit]) -> dict[str, tuple[list[datetime], list[Hit]]]:
    grouped: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        grouped[hit.group].append(hit)
    result = {}
    for key, kept in grouped.items():
        kept.sort(key=lambda h: h.obs.at)
        result[key] = ([h.obs.at for h in kept], kept)
    return result


def spans(replayed: RuleReplay, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(e.fired_at, e.resolved_at or end) for e in replayed.episodes if e.group == replayed.chart_group]


def report_lines(results: Sequence[RuleReplay]) -> list[str]:
    lines = []
    for r in results:
        lines.append(f"{r.rule.id}: {len(r.episodes)} firing episode(s)")
        for e in r.episodes:
            resolved = f"{e.resolved_at:%Y-%m-%d %H:%M}" if e.resolved_at else "still firing"
            lines.append(
                f"  {e.group or '-':<30} fired {e.fired_at:%Y-%m-%d %H:%M}  resolved {resolved}  peak {e.peak:g}"
            )
    return lines


def as_json(results: Sequence[RuleReplay]) -> list[dict[str, Any]]:
    return [
        {
            "rule": r.rule.id,
            "episodes": [
                {
                    "group": e.group,
                    "fired_at": e.fired_at.isoformat(),
                    "resolved_at": e.resolved_at.isoformat() if e.resolved_at else None,
                    "peak": e.peak,
                }
                for e in r.episodes
            ],
        }
        for r in results
    ]
