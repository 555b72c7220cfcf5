"""Evaluate a rule's condition tree over one group's observations (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.detect.window import Observation, aggregate, is_rate, window_metric
from monitor.durations import format_duration
from monitor.models import Evidence
from monitor.rules import AllCondition, AnyCondition, Condition, Rule, Spike, SpikeCondition, Threshold

_OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    holds: bool
    evidence: tuple[Evidence, ...]


def compare(value: float, op: str, threshold: float) -> bool:
    return bool(_OPS[op](value, threshold))


def evaluate(
    condition: Condition,
    observations: Sequence[Observation],
    now: datetime,
    rule: Rule,
    cut: float,
    history_since: datetime | None = None,
) -> Verdict:
    """``history_since``: since when data exists for the rule's sources; a baseline reaching
    further back is not yet known, so a spike on it does not hold (warm-up)."""
    if isinstance(condition, AllCondition):
        parts = [evaluate(c, observations, now, rule, cut, history_since) for c in condition.all]
        return Verdict(all(p.holds for p in parts), tuple(e for p in parts for e in p.evidence))
    if isinstance(condition, AnyCondition):
        parts = [evaluate(c, observations, now, rule, cut, history_since) for c in condition.any]
        held = [p for p in parts if p.holds]
        return Verdict(bool(held), tuple(e for p in (held or parts) for e in p.evidence))
    if isinstance(condition, SpikeCondition):
        window = condition.spike.window or rule.window
        baseline_start = now - window - condition.spike.baseline
        if history_since is None or history_since > baseline_start + rule.bucket:
            return Verdict(False, (warming_up(condition.spike, window, history_since),))
        return spike(condition.spike, observations, now, window, cut)
    return threshold(condition.threshold, observations, now, condition.threshold.window or rule.window, cut)


def threshold(spec: Threshold, observations: Sequence[Observation], now: datetime, window: timedelta, cut: float) -> Verdict:
    value = window_metric(observations, spec.metric, now, window, cut)
    evidence = Evidence(
        kind="threshold", metric=spec.metric, value=value, window=format_duration(window), op=spec.op, threshold=spec.value
    )
    return Verdict(compare(value, spec.op, spec.value), (evidence,))


def spike(spec: Spike, observations: Sequence[Observation], now: datetime, window: timedelta, cut: float) -> Verdict:
    current = aggregate(observations, now - window, now, cut).metric(spec.metric)
    reference = aggregate(observations, now - window - spec.baseline, now - window, cut).metric(spec.metric)
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
        kind="spike", metric=spec.metric, value=0, window=format_duration(window),
        note=f"warming up: the {format_duration(spec.baseline)} baseline is not covered ({since})",
    )
