"""The ``anomaly`` condition: is this bucket far from what is normal for it?

A streaming detector over one series of bucket values (e.g. complaint counts per 5 minutes):

1. **Baseline.** The values seen before are kept per *season slot* (one slot for all, or
   one per hour of day, or per hour of week). ``median_mad``: ``expected`` is the median of
   the slot's last ``history`` values and ``spread`` their MAD scaled to a standard
   deviation. ``ewma``: exponentially weighted mean and standard deviation with span
   ``history``; each value enters clipped to ``expected ± clip·spread`` so that a burst
   does not drag the baseline.
2. **Heavy tails.** Volumes of posts and complaints are bursty: small bursts happen every
   day, and a MAD learnt from quiet hours calls each of them a crisis. With
   ``tail_quantile`` (``median_mad`` only) the spread is at least what the slot's own tail
   implies: ``(q - median) / Φ⁻¹(tail_quantile)`` with ``q`` the value at that quantile (on
   the side of the new value). For normally distributed data this equals the MAD estimate,
   so it only matters when the history is bursty.
3. **Spread floor.** ``spread`` is also at least ``min_spread`` and at least
   ``count_noise · sqrt(expected)`` (the noise of a count with that mean), so a flat or
   near-zero baseline does not turn every small change into a huge z-score.
4. **Score.** ``z = (value - expected) / spread``. A bucket is *anomalous* when ``z`` (for
   ``direction="up"``), ``-z`` (``"down"``) or either (``"both"``) reaches ``threshold`` and
   the value moved by at least ``min_delta``.
5. **Warm-up.** Nothing is anomalous until the slot holds ``min_events`` values.
6. **Alerting.** An alert fires when ``consecutive`` buckets in a row are anomalous. That
   opens an *episode*: no new alert while anomalous buckets keep coming; the episode closes
   once no bucket has been anomalous for ``cooldown``, and the next anomaly fires again.
   One alert per burst, however long the burst lasts.

Every value, anomalous or not, joins the baseline after it is judged (the median and the
clipped EWMA are robust to the bursts). Pure: time comes only from the timestamps passed
in. ``to_state``/``from_state`` persist everything, so a restarted daemon carries on
exactly where it stopped.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Any, Literal

Method = Literal["median_mad", "ewma"]
Season = Literal["none", "hour_of_day", "hour_of_week"]
Direction = Literal["up", "down", "both"]

MAD_TO_SIGMA = 1.4826
"""Scales a median absolute deviation to a standard deviation for normal data."""

STATE_VERSION = 1
_SEASON_SLOTS = {"none": 1, "hour_of_day": 24, "hour_of_week": 168}


@dataclass(frozen=True)
class AnomalyParams:
    """How the ``anomaly`` condition judges a series; the defaults are the benchmarked ones.

    ``history`` and ``min_events`` count values *in the same season slot*: with 5-minute
    buckets and ``season="none"``, 2016 is one week and 288 one day; with
    ``season="hour_of_day"`` a slot gains 12 values a day (168 = two weeks).
    """

    method: Method = "median_mad"
    season: Season = "none"
    history: int = 2016
    min_events: int = 288
    threshold: float = 5.0
    tail_quantile: float = 0.98
    min_spread: float = 1.0
    count_noise: float = 1.0
    min_delta: float = 0.0
    direction: Direction = "up"
    consecutive: int = 2
    cooldown: timedelta = timedelta(hours=12)
    clip: float = 3.0

    def __post_init__(self) -> None:
        problems = _param_problems(self)
        if problems:
            raise ValueError("invalid AnomalyParams: " + "; ".join(problems))


def _param_problems(p: AnomalyParams) -> list[str]:
    checks = [
        (p.method in ("median_mad", "ewma"), f"method {p.method!r}, expected median_mad or ewma"),
        (p.season in _SEASON_SLOTS, f"season {p.season!r}, expected none, hour_of_day or hour_of_week"),
        (p.direction in ("up", "down", "both"), f"direction {p.direction!r}, expected up, down or both"),
        (p.history >= 2, f"history {p.history}, expected at least 2 values"),
        (0 <= p.min_events <= p.history, f"min_events {p.min_events}, expected 0..history ({p.history})"),
        (p.threshold > 0, f"threshold {p.threshold}, expected a z-score > 0"),
        (
            p.tail_quantile == 0 or 0.5 < p.tail_quantile < 1,
            f"tail_quantile {p.tail_quantile}, expected 0 (off) or between 0.5 and 1",
        ),
        (p.min_spread > 0, f"min_spread {p.min_spread}, expected > 0 (the floor on the spread)"),
        (p.count_noise >= 0, f"count_noise {p.count_noise}, expected >= 0"),
        (p.min_delta >= 0, f"min_delta {p.min_delta}, expected >= 0"),
        (p.consecutive >= 1, f"consecutive {p.consecutive}, expected at least 1 bucket"),
        (p.cooldown >= timedelta(0), f"cooldown {p.cooldown}, expected a duration >= 0"),
        (p.clip > 0, f"clip {p.clip}, expected > 0"),
    ]
    return [message for ok, message in checks if not ok]


@dataclass(frozen=True)
class AnomalyResult:
    """The verdict on one bucket.

    ``expected``/``spread`` describe the baseline before this value joined it. ``anomalous``
    is True on every bucket past the threshold; ``fired`` only on the bucket that raises an
    alert (not on the later buckets of the same episode).
    """

    value: float
    expected: float
    spread: float
    zscore: float
    fired: bool
    warming_up: bool
    anomalous: bool = False


# --- robust statistics over a sorted sequence ----------------------------------------


def median(ordered: Sequence[float]) -> float:
    """Median of an already sorted sequence (0.0 when empty)."""
    n = len(ordered)
    if n == 0:
        return 0.0
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def median_abs_deviation(ordered: Sequence[float], centre: float) -> float:
    """Median of ``|x - centre|`` over a sorted sequence, in O(log² n) without sorting."""
    n = len(ordered)
    if n == 0:
        return 0.0
    split = bisect_left(ordered, centre)
    upper = _kth_deviation(ordered, split, centre, n // 2)
    if n % 2:
        return upper
    return (_kth_deviation(ordered, split, centre, n // 2 - 1) + upper) / 2.0


def _kth_deviation(ordered: Sequence[float], split: int, centre: float, k: int) -> float:
    """The k-th smallest (from 0) ``|x - centre|``: the k-th of two sorted sequences.

    Deviations left of ``split`` grow leftwards, those from ``split`` on grow rightwards;
    binary search on how many of the k+1 smallest come from the left.
    """
    n_right = len(ordered) - split

    def left(i: int) -> float:
        return centre - ordered[split - 1 - i]

    def right(j: int) -> float:
        return ordered[split + j] - centre

    lo, hi = max(0, k + 1 - n_right), min(k + 1, split)
    while lo < hi:
        take = (lo + hi) // 2
        if left(take) < right(k - take):
            lo = take + 1
        else:
            hi = take
    candidates = [left(lo - 1)] if lo > 0 else []
    if lo < k + 1:
        candidates.append(right(k - lo))
    return max(candidates)


def quantile(ordered: Sequence[float], q: float) -> float:
    """The value at quantile ``q`` of a sorted, non-empty sequence (the higher neighbour)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- baselines -------------------------------------------------------------------------


class _MedianMad:
    """The last ``size`` values, in arrival order and sorted."""

    def __init__(self, size: int, tail: float, values: Sequence[float] = ()) -> None:
        self._size = size
        self._tail = tail
        self._z_tail = NormalDist().inv_cdf(tail) if tail else 0.0
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return len(self._recent)

    def add(self, value: float) -> None:
        self._recent.append(value)
        insort(self._sorted, value)
        if len(self._recent) > self._size:
            del self._sorted[bisect_left(self._sorted, self._recent.popleft())]

    def estimate(self, value: float) -> tuple[float, float]:
        """(median, spread) where spread is the scaled MAD, widened by the tail on ``value``'s side."""
        centre = median(self._sorted)
        spread = MAD_TO_SIGMA * median_abs_deviation(self._sorted, centre)
        if self._tail:
            if value >= centre:
                tail_width = quantile(self._sorted, self._tail) - centre
            else:
                tail_width = centre - quantile(self._sorted, 1.0 - self._tail)
            spread = max(spread, tail_width / self._z_tail)
        return centre, spread

    def to_state(self) -> dict[str, Any]:
        return {"values": list(self._recent)}


class _Ewma:
    """Exponentially weighted mean and variance with span ``size``, fed clipped values."""

    def __init__(self, size: int, clip: float, count: int = 0, mean: float = 0.0, var: float = 0.0):
        self._alpha = 2.0 / (size + 1.0)
        self._clip = clip
        self.count, self.mean, self.var = count, mean, var

    def __len__(self) -> int:
        return self.count

    def add(self, value: float) -> None:
        if self.count == 0:
            self.count, self.mean = 1, value
            return
        if self.count > 1:
            reach = self._clip * math.sqrt(self.var)
            value = min(max(value, self.mean - reach), self.mean + reach)
        delta = value - self.mean
        self.mean += self._alpha * delta
        self.var = (1.0 - self._alpha) * (self.var + self._alpha * delta * delta)
        self.count += 1

    def estimate(self, value: float) -> tuple[float, float]:
        return self.mean, math.sqrt(self.var)

    def to_state(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "var": self.var}


_Baseline = _MedianMad | _Ewma


def _new_baseline(p: AnomalyParams, state: dict[str, Any] | None = None) -> _Baseline:
    if p.method == "ewma":
        if state is None:
            return _Ewma(p.history, p.clip)
        return _Ewma(p.history, p.clip, int(state["count"]), float(state["mean"]), float(state["var"]))
    values = [] if state is None else [float(v) for v in state["values"]]
    return _MedianMad(p.history, p.tail_quantile, values)


# --- judging one value ---------------------------------------------------------------


def season_slot(season: Season, ts: datetime) -> int:
    """Which baseline a timestamp belongs to (hours in the timestamp's own time zone)."""
    if season == "hour_of_day":
        return ts.hour
    if season == "hour_of_week":
        return ts.weekday() * 24 + ts.hour
    return 0


def floored_spread(p: AnomalyParams, expected: float, raw_spread: float) -> float:
    """The baseline's spread, floored so that a flat baseline does not fire on any change."""
    return max(raw_spread, p.min_spread, p.count_noise * math.sqrt(abs(expected)))


def is_anomalous(p: AnomalyParams, z: float, delta: float) -> bool:
    """Whether a z-score and a change ``value - expected`` pass the bar in ``direction``."""
    up = z >= p.threshold and delta >= p.min_delta
    down = -z >= p.threshold and -delta >= p.min_delta
    if p.direction == "up":
        return up
    if p.direction == "down":
        return down
    return up or down


@dataclass
class _Episode:
    """An open alert: when it fired and when a bucket was last anomalous."""

    fired_at: datetime
    last_anomalous: datetime


@dataclass
class _Runtime:
    baselines: dict[int, _Baseline] = field(default_factory=dict)
    episode: _Episode | None = None
    run: int = 0
    last_ts: datetime | None = None


class AnomalyDetector:
    """Streaming detector: call ``update(ts, value)`` once per bucket, in time order."""

    def __init__(self, params: AnomalyParams) -> None:
        self.params = params
        self._rt = _Runtime()

    def update(self, ts: datetime, value: float) -> AnomalyResult:
        """Judge ``value`` against the baseline of its slot, then add it to that baseline."""
        value = float(value)
        self._check_input(ts, value)
        baseline = self._baseline(season_slot(self.params.season, ts))
        result = self._judge(ts, value, baseline)
        baseline.add(value)
        self._rt.last_ts = ts
        return result

    def _check_input(self, ts: datetime, value: float) -> None:
        if not math.isfinite(value):
            raise ValueError(f"value {value!r} at {ts.isoformat()} is not a finite number")
        last = self._rt.last_ts
        if last is not None and ts < last:
            raise ValueError(f"timestamp {ts.isoformat()} is before the previous one {last.isoformat()}")

    def _baseline(self, slot: int) -> _Baseline:
        if slot not in self._rt.baselines:
            self._rt.baselines[slot] = _new_baseline(self.params)
        return self._rt.baselines[slot]

    def _judge(self, ts: datetime, value: float, baseline: _Baseline) -> AnomalyResult:
        p = self.params
        warming = len(baseline) < max(p.min_events, 1)
        expected, raw_spread = baseline.estimate(value) if len(baseline) else (value, 0.0)
        spread = floored_spread(p, expected, raw_spread)
        z = (value - expected) / spread
        anomalous = not warming and is_anomalous(p, z, value - expected)
        self._rt.run = self._rt.run + 1 if anomalous else 0
        fired = self._step_episode(ts, anomalous, self._rt.run >= p.consecutive)
        return AnomalyResult(value, expected, spread, z, fired, warming, anomalous)

    def _step_episode(self, ts: datetime, anomalous: bool, sustained: bool) -> bool:
        """Advance the alert episode; True when this bucket raises a new alert."""
        rt = self._rt
        if rt.episode is not None and ts - rt.episode.last_anomalous >= self.params.cooldown:
            rt.episode = None
        if rt.episode is not None:
            if anomalous:
                rt.episode.last_anomalous = ts
            return False
        if sustained:
            rt.episode = _Episode(ts, ts)
            return True
        return False

    def to_state(self) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON types."""
        rt = self._rt
        episode = None
        if rt.episode is not None:
            episode = {
                "fired_at": rt.episode.fired_at.isoformat(),
                "last_anomalous": rt.episode.last_anomalous.isoformat(),
            }
        return {
            "version": STATE_VERSION,
            "baselines": {str(slot): b.to_state() for slot, b in sorted(rt.baselines.items())},
            "episode": episode,
            "run": rt.run,
            "last_ts": None if rt.last_ts is None else rt.last_ts.isoformat(),
        }

    @classmethod
    def from_state(cls, params: AnomalyParams, state: dict[str, Any]) -> AnomalyDetector:
        """A detector that carries on from ``state`` (as written by :meth:`to_state`)."""
        if state.get("version") != STATE_VERSION:
            found = state.get("version")
            raise ValueError(f"anomaly detector state version {found!r}, expected {STATE_VERSION}")
        detector = cls(params)
        rt = detector._rt
        rt.baselines = {int(slot): _new_baseline(params, b) for slot, b in state["baselines"].items()}
        if state["episode"] is not None:
            e = state["episode"]
            rt.episode = _Episode(_parse_ts(e["fired_at"]), _parse_ts(e["last_anomalous"]))
        rt.run = int(state["run"])
        rt.last_ts = None if state["last_ts"] is None else _parse_ts(state["last_ts"])
        return detector


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def detect_series(
    params: AnomalyParams, timestamps: Sequence[datetime], values: Sequence[float]
) -> list[AnomalyResult]:
    """Run a fresh detector over a whole series."""
    if len(timestamps) != len(values):
        raise ValueError(f"{len(timestamps)} timestamps for {len(values)} values")
    detector = AnomalyDetector(params)
    return [detector.update(ts, v) for ts, v in zip(timestamps, values, strict=True)]
