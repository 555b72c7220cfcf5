"""Evaluate a rule's condition tree over one group's observations (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config.durations import format_duration
from monitor.config.rules import (
    AllCondition,
    Anomaly,
    AnomalyCondition,
    AnyCondition,
    Condition,
    Immediate,
    ImmediateCondition,
    Rule,
    Spike,
    SpikeCondition,
    Threshold,
)
from monitor.detect.anomaly import AnomalyDetector
from monitor.detect.running import DetectorMemo, Running
from monitor.detect.window import SUMMABLE, Aggregate, Counted, Hourly, Observation, aggregate, is_rate
from monitor.models import Evidence

_OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


Leaf = Threshold | Spike | Anomaly | Immediate
Series = Sequence[Observation] | Hourly | Counted
Observe = Callable[[Leaf], Series]


@dataclass(frozen=True, slots=True)
class Verdict:
    holds: bool
    evidence: tuple[Evidence, ...]


def compare(value: float, op: str, threshold: float) -> bool:
    return bool(_OPS[op](value, threshold))


def evaluate(
    condition: Condition,
    observations: Series | Observe,
    now: datetime,
    rule: Rule,
    cut: float,
    history_since: datetime | None = None,
    memo: DetectorMemo | None = None,
    group: str = "",
) -> Verdict:
    """``history_since``: since when data exists for the rule's sources; a baseline reaching
    further back is not yet known, so a spike on it does not hold (warm-up).

    ``observations`` is either one sequence for every condition, or a function giving each
    leaf condition its own (conditions with their own ``sources``/``match``). ``memo`` keeps
    ``anomaly`` detectors running between evaluations (per rule, ``group`` and condition)."""
    if isinstance(condition, AllCondition | AnyCondition):
        children = condition.all if isinstance(condition, AllCondition) else condition.any
        parts = [evaluate(c, observations, now, rule, cut, history_since, memo, group) for c in children]
        if isinstance(condition, AllCondition):
            return Verdict(all(p.holds for p in parts), tuple(e for p in parts for e in p.evidence))
        held = [p for p in parts if p.holds]
        return Verdict(bool(held), tuple(e for p in (held or parts) for e in p.evidence))
    if isinstance(condition, ImmediateCondition):
        spec_ = condition.immediate
        return immediate(spec_, _observe(observations, spec_), now, spec_.window or rule.window, cut)
    if isinstance(condition, AnomalyCondition):
        leaf = condition.anomaly
        key = (rule.id, group, leaf)
        return anomaly(leaf, _listed(_observe(observations, leaf)), now, rule.bucket, cut, history_since, memo, key)
    if isinstance(condition, SpikeCondition):
        window = condition.spike.window or rule.window
        baseline_start = now - window - condition.spike.baseline
        if history_since is None or history_since > baseline_start + rule.bucket:
            return Verdict(False, (warming_up(condition.spike, window, history_since),))
        return spike(condition.spike, _observe(observations, condition.spike), now, window, cut)
    spec = condition.threshold
    return threshold(spec, _observe(observations, spec), now, spec.window or rule.window, cut)


def _observe(observations: Series | Observe, leaf: Leaf) -> Series:
    return observations(leaf) if callable(observations) else observations


def _listed(series: Series) -> Sequence[Observation]:
    if isinstance(series, Hourly | Counted):
        raise TypeError("an anomaly condition reads its observations, not totals")
    return series


def totals(series: Series, metric: str, start: datetime, end: datetime, cut: float) -> Aggregate:
    """The totals over ``(start, end]``: from the observations, whole hours plus the edges, or
    counted by the database."""
    if isinstance(series, Hourly):
        if metric not in SUMMABLE:
            raise TypeError(f"{metric} does not add up across hours: read its observations")
        return series.aggregate(start, end, cut)
    if isinstance(series, Counted):
        if metric == "mean_sentiment":
            raise TypeError("mean_sentiment is not counted by the database: read its hourly sums")
        return series.aggregate(start, end, cut)
    return aggregate(series, start, end, cut)


def threshold(spec: Threshold, observations: Series, now: datetime, window: timedelta, cut: float) -> Verdict:
    value = totals(observations, spec.metric, now - window, now, cut).metric(spec.metric)
    evidence = Evidence(
        kind="threshold",
        metric=spec.metric,
        value=value,
        window=format_duration(window),
        op=spec.op,
        threshold=spec.value,
    )
    return Verdict(compare(value, spec.op, spec.value), (evidence,))


def immediate(spec: Immediate, observations: Series, now: datetime, window: timedelta, cut: float) -> Verdict:
    """Holds while ``min_items`` selected items fall in the window: no baseline, no warm-up."""
    value = totals(observations, "count", now - window, now, cut).metric("count")
    evidence = Evidence(
        kind="immediate", metric="count", value=value, window=format_duration(window), threshold=spec.min_items
    )
    return Verdict(value >= spec.min_items, (evidence,))


def spike(spec: Spike, observations: Series, now: datetime, window: timedelta, cut: float) -> Verdict:
    current = totals(observations, spec.metric, now - window, now, cut).metric(spec.metric)
    reference = totals(observations, spec.metric, now - window - spec.baseline, now - window, cut).metric(spec.metric)
    if is_rate(spec.metric):
        reference *= window / spec.baseline
    floored = max(reference, spec.min_baseline)
    up = current >= spec.min_current and current >= spec.ratio * floored
    down = reference >= spec.min_baseline and current <= reference / spec.ratio
    holds = {"up": up, "down": down, "both": up or down}[spec.direction]
    evidence = Evidence(
        kind="spike",
        metric=spec.metric,
        value=current,
        window=format_duration(window),
        baseline=reference,
        ratio=current / floored,
        threshold=spec.ratio,
    )
    return Verdict(holds, (evidence,))


def warming_up(spec: Spike, window: timedelta, history_since: datetime | None) -> Evidence:
    since = "no data yet" if history_since is None else f"data only since {history_since:%Y-%m-%d %H:%M} UTC"
    return Evidence(
        kind="spike",
        metric=spec.metric,
        value=0,
        window=format_duration(window),
        note=f"warming up: the {format_duration(spec.baseline)} baseline is not covered ({since})",
    )


def bucket_stamps(start: datetime, end: datetime, bucket: timedelta) -> list[datetime]:
    """The ends of the complete buckets in ``(start, end]``, aligned to the epoch."""
    size = bucket.total_seconds()
    last = datetime.fromtimestamp((end.timestamp() // size) * size, end.tzinfo)
    edge = datetime.fromtimestamp((start.timestamp() // size + 1) * size, end.tzinfo)
    stamps: list[datetime] = []
    while edge <= last:
        stamps.append(edge)
        edge += bucket
    return stamps


def bucket_series(
    observations: Sequence[Observation],
    metric: str,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    cut: float,
) -> tuple[list[datetime], list[float]]:
    """The metric per complete bucket in ``(start, end]``, buckets aligned to the epoch."""
    size = bucket.total_seconds()
    stamps = bucket_stamps(start, end, bucket)
    index = {s: i for i, s in enumerate(stamps)}
    grouped: list[list[Observation]] = [[] for _ in stamps]
    for obs in observations:
        closing = datetime.fromtimestamp(-(-obs.at.timestamp() // size) * size, end.tzinfo)
        if closing in index:
            grouped[index[closing]].append(obs)
    values = [aggregate(g, s - bucket, s, cut).metric(metric) for g, s in zip(grouped, stamps, strict=True)]
    return stamps, values


def anomaly(
    spec: Anomaly,
    observations: Sequence[Observation],
    now: datetime,
    bucket: timedelta,
    cut: float,
    history_since: datetime | None,
    memo: DetectorMemo | None = None,
    key: tuple[str, str, Anomaly] | None = None,
) -> Verdict:
    """Feed the condition's detector the buckets completed up to ``now``; it holds while the
    latest bucket is anomalous and an alert fired in its anomalous run."""
    running = _running(spec, now, bucket, history_since, memo, key)
    fresh = [o for o in observations if o.at > running.edge]  # a running detector has seen the rest
    feed(spec, running, *bucket_series(fresh, spec.metric, running.edge, now, bucket, cut))
    if memo is not None and key is not None:
        memo.put(key, running)
    last = running.last
    if last is None or last.warming_up:
        have = format_duration(running.fed * bucket)
        note = f"warming up: {have} of data, {format_duration(spec.min_history)} needed"
        return Verdict(
            False,
            (Evidence(kind="anomaly", metric=spec.metric, value=0, window=format_duration(bucket), note=note),),
        )
    evidence = Evidence(
        kind="anomaly",
        metric=spec.metric,
        value=last.value,
        window=format_duration(bucket),
        baseline=last.expected,
        zscore=last.zscore if last.spread > 0 else None,
        threshold=spec.rarity,
    )
    return Verdict(running.holds, (evidence,))


def feed(spec: Anomaly, running: Running, stamps: Sequence[datetime], values: Sequence[float]) -> None:
    """Feed the detector each bucket's value (``stamps``: the buckets' ends)."""
    zone = ZoneInfo(spec.timezone)
    for stamp, value in zip(stamps, values, strict=True):
        running.feed(stamp, stamp.astimezone(zone), value)


def feed_totals(
    spec: Anomaly, running: Running, totals: Mapping[float, Aggregate], end: datetime, bucket: timedelta
) -> None:
    """Feed the detector the buckets completed in ``(running.edge, end]`` from their totals
    (keyed by each bucket's end, epoch seconds; a bucket not there had no hits): what
    ``anomaly`` feeds it from the same buckets' observations."""
    stamps = bucket_stamps(running.edge, end, bucket)
    feed(spec, running, stamps, [totals.get(s.timestamp(), Aggregate()).metric(spec.metric) for s in stamps])


def _running(
    spec: Anomaly,
    now: datetime,
    bucket: timedelta,
    history_since: datetime | None,
    memo: DetectorMemo | None,
    key: tuple[str, str, Anomaly] | None,
) -> Running:
    """The condition's running detector, or a fresh one that will replay the history."""
    params = spec.params(bucket)
    kept = memo.get(key) if memo is not None and key is not None else None
    if kept is not None and kept.params == params and now - spec.history <= kept.edge <= now:
        return kept
    start = max(now - spec.history, history_since) if history_since else now
    return Running(params, AnomalyDetector(params), start, spec.history)
