"""The detectors the NAB benchmark runs, as per-row surprise and discrete alerts.

- :func:`crisismon` runs ``monitor.detect.anomaly`` itself (the real streaming detector);
- :func:`windowed_gaussian` is the same-run baseline: the mean and standard deviation of
  the same history, the Gaussian tail as the surprise, and the same alerting stage;
- :func:`replay_alerts` turns a surprise stream into alerts for any (threshold, cool-down,
  rebound) without re-running a detector, so that cross-validation can try many alerting
  settings cheaply. It decides exactly as ``anomaly.Alerting`` with ``consecutive=1``
  (tests/test_nab.py checks this on random streams).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.detect.anomaly import AnomalyDetector, AnomalyParams
from monitor.detect.tails import MAX_SURPRISE

Surprises = list[float | None]
"""One entry per row: the bucket's surprise, or None when the detector skipped the row."""


@dataclass(frozen=True)
class Run:
    """What a detector made of one file: alerts per row, surprises, rows it skipped."""

    alerts: list[bool]
    surprises: Surprises
    skipped: int


def crisismon(params: AnomalyParams, timestamps: Sequence[datetime], values: Sequence[float]) -> Run:
    detector = AnomalyDetector(params)
    alerts: list[bool] = []
    surprises: Surprises = []
    for ts, value in zip(timestamps, values, strict=True):
        result = detector.update(ts, value)
        alerts.append(result.fired)
        surprises.append(None if result.skipped else result.surprise)
    return Run(alerts, surprises, sum(1 for s in surprises if s is None))


def windowed_gaussian(
    history: int, warmup: int, timestamps: Sequence[datetime], values: Sequence[float], direction: str = "both"
) -> Surprises:
    """``-log10`` of the Gaussian tail of each value against the mean and standard deviation
    of the previous ``history`` values (skipping rows the detector would skip)."""
    recent: deque[float] = deque()
    total = total_sq = 0.0
    last: datetime | None = None
    out: Surprises = []
    for ts, value in zip(timestamps, values, strict=True):
        if not math.isfinite(value) or (last is not None and ts <= last):
            out.append(None)
            continue
        last = ts
        n = len(recent)
        out.append(_gaussian_surprise(value, total, total_sq, n, direction) if n >= warmup else 0.0)
        recent.append(value)
        total, total_sq = total + value, total_sq + value * value
        if n + 1 > history:
            old = recent.popleft()
            total, total_sq = total - old, total_sq - old * old
    return out


def _gaussian_surprise(value: float, total: float, total_sq: float, n: int, direction: str) -> float:
    mean = total / n
    std = math.sqrt(max(total_sq / n - mean * mean, 0.0))
    if std <= 1e-12 * max(abs(mean), 1.0):
        return 0.0 if value == mean else MAX_SURPRISE
    z = (value - mean) / std
    if direction == "up":
        return _tail(z)
    if direction == "down":
        return _tail(-z)
    return _tail(abs(z))


def _tail(z: float) -> float:
    """``-log10 P(Z >= z)`` for a standard normal ``Z``, capped at MAX_SURPRISE."""
    p = 0.5 * math.erfc(z / math.sqrt(2.0))
    return MAX_SURPRISE if p <= 10.0**-MAX_SURPRISE else min(MAX_SURPRISE, -math.log10(p))


def replay_alerts(surprises: Surprises, threshold: float, cooldown: int, rebound: float) -> list[bool]:
    """Alerts from a surprise stream, as ``anomaly.Alerting`` decides them (consecutive=1).

    Only buckets at or past ``threshold`` can fire or raise the peak, so only those are
    visited; the cool-down counts judged buckets (skipped rows do not count).
    """
    alerts = [False] * len(surprises)
    judged = 0
    last: int | None = None
    peak = 0.0
    for row, s in enumerate(surprises):
        if s is None:
            continue
        judged += 1
        if s < threshold:
            continue
        cooling = last is not None and judged - last <= cooldown
        if not cooling or s >= rebound * peak:
            alerts[row], last, peak = True, judged, s
        else:
            peak = max(peak, s)
    return alerts
