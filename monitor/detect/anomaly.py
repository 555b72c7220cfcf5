"""The ``anomaly`` condition: is this bucket rarer than anything this series normally does?

A streaming detector over one series of bucket values (e.g. complaint counts per 5
minutes), fed one bucket at a time. For every bucket it asks, of a few *views* of the
series, how rare the current value is against that view's own history (``tails.surprise``:
ranks inside the bulk, an exponential peaks-over-threshold tail beyond it, answered in
``-log10 p``):

- ``value``: the bucket itself;
- ``log``: the same rank, with the tail fitted on ``log(1 + value)`` (bursts in counts are
  multiplicative: a tail fitted on the raw values calls the next big burst a miracle);
- ``mean``: the mean of the last ``mean_window`` buckets (a shift that no single bucket
  shows);
- ``median``: the median of the last ``median_window`` buckets (a sustained rise that
  isolated spikes cannot fake, nor hide);
- ``season``: the median of the last ``season_window`` *residuals*, each bucket minus the
  median of the same hour (of the day or of the week) over its last ``season_history``
  values (a normal level at an abnormal hour).

Each view keeps its last ``history`` values; a view says nothing until it holds
``warmup`` of them. With ``lagged``, a summary view's value joins its history only once
it no longer overlaps the current window (a slow rise is judged against what came before
it, not learnt while it happens). The bucket's *surprise* is the largest over the views (and over
``direction``). It is **anomalous** when the surprise reaches ``threshold``; an alert
**fires** on an anomalous bucket unless one fired in the last ``cooldown`` buckets, and
even then when the surprise exceeds ``rebound`` × the highest surprise seen since that
alert (a second, much bigger event is news). ``consecutive`` > 1 asks for that many
anomalous buckets in a row.

Everything is counted in buckets, never in wall time: the detector reads no clock.
Values whose timestamp is not after the previous one (late, duplicate) and non-finite
values are *skipped*: the result says why, and nothing changes. ``to_state``/``from_state``
persist everything as plain JSON; a restored detector carries on exactly where it stopped.
The defaults were chosen by cross-validation on NAB (docs/detection.md).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from monitor.detect.tails import SlidingWindow, identity, signed_log, sorted_median, surprise

Season = Literal["none", "hour_of_day", "hour_of_week"]
Direction = Literal["up", "down", "both"]

STATE_VERSION = 2
_SEASON_SLOTS = {"none": 1, "hour_of_day": 24, "hour_of_week": 168}
IQR_TO_SIGMA = 1.349
"""Interquartile range of a normal distribution, in standard deviations."""


@dataclass(frozen=True)
class AnomalyParams:
    """How the ``anomaly`` condition judges a series; the defaults are the cross-validated ones.

    Counts (``history``, ``warmup``, windows, ``cooldown``) are in buckets; with 5-minute
    buckets 8640 is 30 days, 192 sixteen hours and 96 eight hours.
    """

    history: int = 8640
    warmup: int = 192
    tail: float = 0.01
    floor: float = 0.01
    bulk_floor: float = 0.3
    min_scale: float = 0.0
    log_tail: bool = True
    mean_window: int = 12
    median_window: int = 72
    season: Season = "hour_of_day"
    season_history: int = 168
    season_warmup: int = 12
    season_window: int = 12
    threshold: float = 3.25
    direction: Direction = "both"
    cooldown: int = 96
    rebound: float = 1.5
    consecutive: int = 1
    lagged: bool = True

    def __post_init__(self) -> None:
        problems = _param_problems(self)
        if problems:
            raise ValueError("invalid AnomalyParams: " + "; ".join(problems))


def _param_problems(p: AnomalyParams) -> list[str]:
    checks = [
        (p.history >= 50, f"history {p.history}, expected at least 50 buckets"),
        (10 <= p.warmup <= p.history, f"warmup {p.warmup}, expected 10..history ({p.history})"),
        (0 < p.tail < 0.5, f"tail {p.tail}, expected a fraction between 0 and 0.5"),
        (0 <= p.floor < 1, f"floor {p.floor}, expected a fraction of the range, 0 <= floor < 1"),
        (0 <= p.bulk_floor <= 10, f"bulk_floor {p.bulk_floor}, expected a multiple of the interquartile range, 0..10"),
        (p.min_scale >= 0, f"min_scale {p.min_scale}, expected >= 0"),
        (1 <= p.mean_window <= p.history, f"mean_window {p.mean_window}, expected 1..history"),
        (1 <= p.median_window <= p.history, f"median_window {p.median_window}, expected 1..history"),
        (p.season in _SEASON_SLOTS, f"season {p.season!r}, expected none, hour_of_day or hour_of_week"),
        (p.season_history >= 3, f"season_history {p.season_history}, expected at least 3 values"),
        (
            1 <= p.season_warmup <= p.season_history,
            f"season_warmup {p.season_warmup}, expected 1..season_history ({p.season_history})",
        ),
        (p.season_window >= 1, f"season_window {p.season_window}, expected at least 1 bucket"),
        (p.threshold > 0, f"threshold {p.threshold}, expected a surprise > 0 (-log10 of a probability)"),
        (p.direction in ("up", "down", "both"), f"direction {p.direction!r}, expected up, down or both"),
        (p.cooldown >= 0, f"cooldown {p.cooldown}, expected >= 0 buckets"),
        (p.rebound >= 1, f"rebound {p.rebound}, expected >= 1"),
        (p.consecutive >= 1, f"consecutive {p.consecutive}, expected at least 1 bucket"),
    ]
    return [message for ok, message in checks if not ok]


@dataclass(frozen=True)
class AnomalyResult:
    """The verdict on one bucket.

    ``expected`` (the median of the history) and ``spread`` (its interquartile range as a
    standard deviation) describe the history *before* this value; ``zscore`` places the
    value in it, for people. ``surprise`` is what the decision uses: ``-log10`` of how
    often the history did at least this (``feature`` says in which view, ``towards`` in
    which direction). ``anomalous`` is True on every bucket at or past ``threshold``;
    ``fired`` only on the bucket that raises an alert. ``skipped`` says why a value was not
    judged (``"not after the previous bucket"``, ``"not a finite number"``).
    """

    value: float
    expected: float
    spread: float
    zscore: float
    surprise: float
    feature: str
    towards: str
    fired: bool
    warming_up: bool
    anomalous: bool = False
    skipped: str | None = None


def _skipped(value: float, reason: str) -> AnomalyResult:
    return AnomalyResult(value, math.nan, math.nan, math.nan, 0.0, "", "", False, False, False, reason)


class _Smoother:
    """Mean and median of the last ``size`` inputs."""

    def __init__(self, size: int, values: Sequence[float] = ()) -> None:
        recent = list(values[-size:])
        self.window = SlidingWindow(size, recent)
        self.total = math.fsum(recent)
        self._recent: deque[float] = deque(recent, maxlen=size)

    def add(self, value: float) -> None:
        if len(self._recent) == self._recent.maxlen:
            self.total -= self._recent[0]
        self._recent.append(value)
        self.total += value
        self.window.add(value)

    def mean(self) -> float:
        return self.total / len(self._recent)

    def median(self) -> float:
        return self.window.median()


class _Delayed:
    """A view's history that takes each value only ``lag`` buckets after it was judged, so
    that a summary is never compared with summaries overlapping its own buckets."""

    def __init__(self, size: int, lag: int, history: Sequence[float] = (), pending: Sequence[float] = ()) -> None:
        self.history = SlidingWindow(size, history)
        self.pending: deque[float] = deque(pending)
        self._lag = lag

    def add(self, value: float) -> None:
        self.pending.append(value)
        if len(self.pending) > self._lag:
            self.history.add(self.pending.popleft())


@dataclass
class _Views:
    """The history of every view, and the small buffers the views are computed from."""

    values: SlidingWindow
    means: _Delayed
    medians: _Delayed
    residuals: _Delayed
    mean_of: _Smoother
    median_of: _Smoother
    residual_of: _Smoother
    slots: dict[int, SlidingWindow] = field(default_factory=dict)


@dataclass
class Alerting:
    """When a bucket's surprise raises an alert (pure; the detector's last stage).

    ``cooldown_left`` buckets remain of the cool-down after the last alert, ``peak`` is the
    highest surprise since it, ``run`` counts anomalous buckets in a row.
    """

    threshold: float
    cooldown: int
    rebound: float
    consecutive: int = 1
    cooldown_left: int = 0
    peak: float = 0.0
    run: int = 0

    @classmethod
    def of(cls, p: AnomalyParams) -> Alerting:
        return cls(p.threshold, p.cooldown, p.rebound, p.consecutive)

    def step(self, best: float) -> bool:
        """Advance by one judged bucket of surprise ``best``; True when it raises an alert."""
        anomalous = best >= self.threshold
        self.run = self.run + 1 if anomalous else 0
        cooling = self.cooldown_left > 0
        if cooling:
            self.cooldown_left -= 1
        due = anomalous and self.run >= self.consecutive
        if due and (not cooling or best >= self.rebound * self.peak):
            self.cooldown_left, self.peak = self.cooldown, best
            return True
        if cooling:
            self.peak = max(self.peak, best)
        return False


def season_slot(season: Season, ts: datetime) -> int:
    """Which seasonal slot a timestamp belongs to (hours in the timestamp's own time zone)."""
    if season == "hour_of_day":
        return ts.hour
    if season == "hour_of_week":
        return ts.weekday() * 24 + ts.hour
    return 0


class AnomalyDetector:
    """Streaming detector: call ``update(ts, value)`` once per bucket, in time order."""

    def __init__(self, params: AnomalyParams) -> None:
        self.params = params
        self._views = _new_views(params)
        self._alerting = Alerting.of(params)
        self.last_ts: datetime | None = None

    def update(self, ts: datetime, value: float) -> AnomalyResult:
        """Judge ``value`` against every view's history, then add it to them."""
        value = float(value)
        if not math.isfinite(value):
            return _skipped(value, "not a finite number")
        if self.last_ts is not None and ts <= self.last_ts:
            return _skipped(value, "not after the previous bucket")
        self.last_ts = ts
        return self._step(ts, value, quiet=False)

    def _step(self, ts: datetime | None, value: float, quiet: bool) -> AnomalyResult:
        p, v = self.params, self._views
        expected, spread = _describe(v.values)
        warming = len(v.values) < p.warmup
        scores = self._scores(ts, value)
        best, feature, towards = max(scores, default=(0.0, "", ""))
        anomalous = best >= p.threshold
        fired = False if quiet else self._alerting.step(best)
        zscore = (value - expected) / spread if spread > 0 else 0.0
        return AnomalyResult(value, expected, spread, zscore, best, feature, towards, fired, warming, anomalous)

    def _scores(self, ts: datetime | None, value: float) -> list[tuple[float, str, str]]:
        """Every view's (surprise, name, direction), then each view learns the new value."""
        p, v = self.params, self._views
        scores: list[tuple[float, str, str]] = []
        self._judge(scores, v.values, value, "value")
        if p.log_tail:
            self._judge(scores, v.values, value, "log", log=True)
        v.mean_of.add(value)
        v.median_of.add(value)
        mean, med = v.mean_of.mean(), v.median_of.median()
        self._judge(scores, v.means.history, mean, "mean", over=p.mean_window)
        self._judge(scores, v.medians.history, med, "median", over=p.median_window)
        v.values.add(value)
        v.means.add(mean)
        v.medians.add(med)
        residual = self._residual(ts, value)
        if residual is not None:
            v.residual_of.add(residual)
            smoothed = v.residual_of.median()
            self._judge(scores, v.residuals.history, smoothed, "season", over=p.season_window)
            v.residuals.add(smoothed)
        return scores

    def _residual(self, ts: datetime | None, value: float) -> float | None:
        """The value minus the median of its seasonal slot (None while the slot warms up)."""
        p, v = self.params, self._views
        if p.season == "none" or ts is None:
            return None
        slot = v.slots.setdefault(season_slot(p.season, ts), SlidingWindow(p.season_history))
        residual = value - slot.median() if len(slot) >= p.season_warmup else None
        slot.add(value)
        return residual

    def _judge(
        self,
        scores: list[tuple[float, str, str]],
        history: SlidingWindow,
        x: float,
        name: str,
        log: bool = False,
        over: int = 1,
    ) -> None:
        """Append the surprise of ``x`` against ``history``; a view summarising ``over``
        buckets resolves finer steps, so its ``min_scale`` shrinks as ``1/sqrt(over)``."""
        p = self.params
        if len(history) < p.warmup:
            return
        transform = signed_log if log else identity
        min_scale = p.min_scale / math.sqrt(over)
        up, down = surprise(history.sorted, x, p.tail, p.floor, min_scale, transform, p.bulk_floor)
        if p.direction != "down":
            scores.append((up, name, "up"))
        if p.direction != "up":
            scores.append((down, name, "down"))

    # --- state ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON types."""
        v, a = self._views, self._alerting
        return {
            "version": STATE_VERSION,
            "params": _params_key(self.params),
            "values": v.values.in_order(),
            "means": v.means.history.in_order(),
            "medians": v.medians.history.in_order(),
            "residuals": v.residuals.history.in_order(),
            "pending": [list(v.means.pending), list(v.medians.pending), list(v.residuals.pending)],
            "recent_residuals": v.residual_of.window.in_order(),
            "slots": {str(slot): w.in_order() for slot, w in sorted(v.slots.items())},
            "alerting": {"cooldown_left": a.cooldown_left, "peak": a.peak, "run": a.run},
            "last_ts": None if self.last_ts is None else self.last_ts.isoformat(),
        }

    @classmethod
    def from_state(cls, params: AnomalyParams, state: dict[str, Any]) -> AnomalyDetector:
        """A detector that carries on from ``state`` (as written by :meth:`to_state`).

        A state written by the previous detector (version 1) is migrated: its history of
        values (``season: none``) warms the new views up; other version-1 states (EWMA,
        seasonal slots) hold nothing the new views can use, so the detector starts afresh
        (and warms up again). A state written with other parameters is refused.
        """
        version = state.get("version")
        if version == 1:
            return _from_v1(params, state)
        if version != STATE_VERSION:
            raise ValueError(f"anomaly detector state version {version!r}, expected {STATE_VERSION} (or 1)")
        if state.get("params") != _params_key(params):
            raise ValueError("anomaly detector state was written with other parameters; start a fresh detector")
        detector = cls(params)
        detector._views = _views_from_state(params, state)
        a = state["alerting"]
        alerting = detector._alerting
        alerting.cooldown_left, alerting.peak, alerting.run = int(a["cooldown_left"]), float(a["peak"]), int(a["run"])
        detector.last_ts = None if state["last_ts"] is None else datetime.fromisoformat(state["last_ts"])
        return detector


def _describe(values: SlidingWindow) -> tuple[float, float]:
    """(median, interquartile range as a standard deviation) of the history; NaN when empty."""
    ordered = values.sorted
    n = len(ordered)
    if n == 0:
        return math.nan, math.nan
    iqr = ordered[min(n - 1, (3 * n) // 4)] - ordered[n // 4]
    return sorted_median(ordered), iqr / IQR_TO_SIGMA


def _lags(p: AnomalyParams) -> tuple[int, int, int]:
    """How long each summary view waits before its values join its history."""
    if not p.lagged:
        return 0, 0, 0
    return p.mean_window, p.median_window, p.season_window


def _new_views(p: AnomalyParams) -> _Views:
    mean_lag, median_lag, season_lag = _lags(p)
    return _Views(
        values=SlidingWindow(p.history),
        means=_Delayed(p.history, mean_lag),
        medians=_Delayed(p.history, median_lag),
        residuals=_Delayed(p.history, season_lag),
        mean_of=_Smoother(p.mean_window),
        median_of=_Smoother(p.median_window),
        residual_of=_Smoother(p.season_window),
    )


def _params_key(p: AnomalyParams) -> dict[str, Any]:
    return {f.name: getattr(p, f.name) for f in fields(p)}


def _floats(raw: Any) -> list[float]:
    return [float(x) for x in raw]


def _views_from_state(p: AnomalyParams, state: dict[str, Any]) -> _Views:
    values = _floats(state["values"])
    lags = _lags(p)
    pending = [_floats(x) for x in state["pending"]]
    means, medians, residuals = (
        _Delayed(p.history, lag, _floats(state[name]), waiting)
        for lag, name, waiting in zip(lags, ("means", "medians", "residuals"), pending, strict=True)
    )
    return _Views(
        values=SlidingWindow(p.history, values),
        means=means,
        medians=medians,
        residuals=residuals,
        mean_of=_Smoother(p.mean_window, values),
        median_of=_Smoother(p.median_window, values),
        residual_of=_Smoother(p.season_window, _floats(state["recent_residuals"])),
        slots={int(s): SlidingWindow(p.season_history, _floats(w)) for s, w in state["slots"].items()},
    )


def _from_v1(params: AnomalyParams, state: dict[str, Any]) -> AnomalyDetector:
    """Migrate a version-1 state: replay its unseasoned history quietly, else start afresh."""
    detector = AnomalyDetector(params)
    baselines = state.get("baselines") or {}
    if set(baselines) == {"0"} and "values" in baselines["0"]:
        for value in _floats(baselines["0"]["values"]):
            detector._step(None, value, quiet=True)
    last = state.get("last_ts")
    detector.last_ts = None if last is None else datetime.fromisoformat(last)
    return detector


def detect_series(
    params: AnomalyParams, timestamps: Sequence[datetime], values: Sequence[float]
) -> list[AnomalyResult]:
    """Run a fresh detector over a whole series (skipped values included, flagged)."""
    if len(timestamps) != len(values):
        raise ValueError(f"{len(timestamps)} timestamps for {len(values)} values")
    detector = AnomalyDetector(params)
    return [detector.update(ts, v) for ts, v in zip(timestamps, values, strict=True)]
