"""A re-implementation of the Numenta Anomaly Benchmark (NAB) scorer.

Written from NAB's description (``nab/sweeper.py``, ``nab/scorer.py``, ``nab/optimizer.py``)
and checked row by row against NAB's own output. The pieces:

- :func:`load_windows` reads ``combined_windows.json``;
- :func:`score_rows` gives, for one file and one profile, the value σ a detection on each
  row would earn, which window (if any) the row is in, and whether it is scorable;
- :func:`sweep` sweeps the threshold down over the anomaly scores of one or more files and
  gives the score at every distinct threshold (NAB's ``calcScoreByThreshold``);
- :func:`file_score` is a file's score at a fixed threshold, :func:`optimise_threshold`
  the corpus-wide best threshold, :func:`normalise` the 0 (null) .. 100 (perfect) scale.

Pure functions: nothing here reads files except the two ``load_*`` helpers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PROBATION_PERCENT = 0.15
"""NAB does not score the first 15% of a file's rows (at most 750 rows, 15% of 5000)."""

NO_DETECTION_THRESHOLD = 1.1
"""The threshold NAB tries first: above every anomaly score, so nothing is detected."""


@dataclass(frozen=True)
class Profile:
    """A NAB cost matrix: what a true positive earns and a miss / false alarm costs."""

    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 1.0, 0.11),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
}
STANDARD = PROFILES["standard"]

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class ScoredRows:
    """Per-row scoring facts of one file under one profile.

    ``sigma[i]`` is what a detection on row ``i`` would earn (NAB's ``S(t)``);
    ``window[i]`` names the window row ``i`` is in (``None`` outside all windows);
    rows before ``probation`` are never scored.
    """

    sigma: tuple[float, ...]
    window: tuple[str | None, ...]
    probation: int


@dataclass(frozen=True)
class ThresholdScore:
    """Score and row counts (probation excluded) when detecting at ``score >= threshold``."""

    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int

    @property
    def total(self) -> int:
        return self.tp + self.tn + self.fp + self.fn


# --- loading -------------------------------------------------------------------------


def parse_timestamp(text: str) -> datetime:
    """A naive datetime from ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (NAB has no time zones)."""
    return datetime.fromisoformat(text.strip())


def load_windows(path: Path) -> dict[str, list[Window]]:
    """``combined_windows.json`` as ``{relative path: [(start, end), ...]}``."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: [(parse_timestamp(start), parse_timestamp(end)) for start, end in pairs] for name, pairs in raw.items()
    }


def windows_for(windows: Mapping[str, list[Window]], file_name: str) -> list[Window]:
    """The windows of a data file, matched on its base name (``Twitter_volume_X.csv``)."""
    base = Path(file_name).name
    matches = [key for key in windows if Path(key).name == base]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} window entries match {base!r}; expected exactly 1")
    return windows[matches[0]]


# --- per-row values ------------------------------------------------------------------


def scaled_sigmoid(x: float) -> float:
    """NAB's ``2/(1+e^{5x}) - 1``, pinned to -1 beyond x = 3."""
    if x > 3.0:
        return -1.0
    return 2.0 * (1.0 / (1.0 + math.exp(5.0 * x))) - 1.0


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """How many leading rows NAB leaves unscored."""
    return int(min(math.floor(percent * n_rows), percent * 5000))


def _window_rows(timestamps: Sequence[datetime], windows: Sequence[Window]) -> list[tuple[int, int]]:
    """Row ranges ``[left, right]`` of the windows, found the way NAB finds them."""
    index = {ts: i for i, ts in enumerate(timestamps)}
    ranges = []
    for start, end in windows:
        if start not in index or end not in index:
            raise ValueError(f"window {start} .. {end} does not start and end on row timestamps")
        ranges.append((index[start], index[end]))
    return sorted(ranges)


def _outside_sigma(i: int, prev: tuple[int, int] | None, profile: Profile) -> float:
    if prev is None:
        return -1.0 * profile.fp_weight
    right, width = prev
    return scaled_sigmoid(abs(right - i) / float(width - 1)) * profile.fp_weight


def _inside_sigma(i: int, right: int, width: int, profile: Profile) -> float:
    position = -(right - i + 1) / float(width)
    return scaled_sigmoid(position) * profile.tp_weight / scaled_sigmoid(-1.0)


def score_rows(
    timestamps: Sequence[datetime],
    windows: Sequence[Window],
    profile: Profile = STANDARD,
    name: str = "",
) -> ScoredRows:
    """The σ of every row of one file (NAB's ``calcSweepScore``).

    Window ids are ``"<name>#<k>"`` so that rows of several files can be swept together.
    """
    ranges = _window_rows(timestamps, windows)
    sigma: list[float] = []
    window: list[str | None] = []
    prev: tuple[int, int] | None = None
    k = 0
    for i in range(len(timestamps)):
        while k < len(ranges) and ranges[k][1] < i:
            left, right = ranges[k]
            prev = (right, right - left + 1)
            k += 1
        if k < len(ranges) and ranges[k][0] <= i:
            left, right = ranges[k]
            sigma.append(_inside_sigma(i, right, right - left + 1, profile))
            window.append(f"{name}#{k}")
        else:
            sigma.append(_outside_sigma(i, prev, profile))
            window.append(None)
    return ScoredRows(tuple(sigma), tuple(window), probation_length(len(timestamps)))


# --- threshold sweep -----------------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    score: float
    sigma: float
    window: str | None


def _scorable_points(scores: Sequence[float], rows: ScoredRows) -> list[_Point]:
    if len(scores) != len(rows.sigma):
        raise ValueError(f"{len(scores)} anomaly scores for {len(rows.sigma)} rows")
    return [_Point(float(scores[i]), rows.sigma[i], rows.window[i]) for i in range(rows.probation, len(scores))]


def sweep(files: Sequence[tuple[Sequence[float], ScoredRows]], fn_weight: float) -> list[ThresholdScore]:
    """Scores at 1.1 and at every distinct anomaly score, highest threshold first.

    ``files`` pairs each file's anomaly scores with its :func:`score_rows`. The score at
    threshold θ counts detections ``score >= θ``: each window earns its best (earliest)
    detection or ``-fn_weight``; every detection outside a window adds its σ. The sum is
    formed in NAB's order (false positives, then windows by first appearance in the
    sorted rows), so a file's score agrees with NAB's to the last bit (a sum over several
    files depends, in the last bits, on the order of the files, as in NAB).
    """
    points = [p for scores, rows in files for p in _scorable_points(scores, rows)]
    points.sort(key=lambda p: p.score, reverse=True)
    parts: dict[str | None, float] = {None: 0.0}
    for p in points:
        if p.window is not None:
            parts[p.window] = -fn_weight
    tp = fp = 0
    fn = sum(1 for p in points if p.window is not None)
    tn = len(points) - fn
    threshold = NO_DETECTION_THRESHOLD
    out: list[ThresholdScore] = []
    for p in points:
        if p.score != threshold:
            out.append(ThresholdScore(threshold, _total(parts), tp, tn, fp, fn))
            threshold = p.score
        if p.window is None:
            parts[None] += p.sigma
            fp, tn = fp + 1, tn - 1
        else:
            parts[p.window] = max(parts[p.window], p.sigma)
            tp, fn = tp + 1, fn - 1
    out.append(ThresholdScore(threshold, _total(parts), tp, tn, fp, fn))
    return out


def _total(parts: Mapping[str | None, float]) -> float:
    total = 0.0
    for value in parts.values():
        total += value
    return total


def at_threshold(scores: Sequence[ThresholdScore], threshold: float) -> ThresholdScore:
    """The sweep row for ``threshold``: the exact match, else the next threshold above it
    (what NAB reports), or the lowest one when ``threshold`` is below every score."""
    previous = scores[0]
    for row in scores:
        if row.threshold == threshold:
            return row
        if row.threshold < threshold:
            return previous
        previous = row
    return previous


def file_score(
    anomaly_scores: Sequence[float], rows: ScoredRows, threshold: float, profile: Profile = STANDARD
) -> ThresholdScore:
    """One file's NAB score at a fixed threshold."""
    return at_threshold(sweep([(anomaly_scores, rows)], profile.fn_weight), threshold)


def optimise_threshold(
    files: Sequence[tuple[Sequence[float], ScoredRows]], profile: Profile = STANDARD
) -> ThresholdScore:
    """The threshold with the best summed score over ``files`` (ties: higher threshold)."""
    candidates = sweep(files, profile.fn_weight)
    best = candidates[0]
    for row in candidates[1:]:
        if row.score > best.score:
            best = row
    return best


def normalise(raw: float, n_windows: int, profile: Profile = STANDARD) -> float:
    """NAB's 0..100 scale: 0 is the null detector, 100 a perfect one."""
    null = -profile.fn_weight * n_windows
    perfect = profile.tp_weight * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def alert_score(alerts: Sequence[bool], rows: ScoredRows, fn_weight: float = 1.0) -> tuple[float, int, int]:
    """(raw score, windows detected, scored alerts outside windows) of discrete alerts.

    :func:`file_score` at threshold 1 for 0/1 scores (equal up to the order of the sum),
    in one pass: the earliest alert in a window earns its σ (the highest there), a window
    without one costs ``fn_weight`` (the profile's A_FN), every alert outside adds its σ.
    """
    if len(alerts) != len(rows.sigma):
        raise ValueError(f"{len(alerts)} alerts for {len(rows.sigma)} rows")
    best: dict[str, float] = {}
    outside = 0.0
    n_outside = 0
    for i in range(rows.probation, len(alerts)):
        if not alerts[i]:
            continue
        window = rows.window[i]
        if window is None:
            outside += rows.sigma[i]
            n_outside += 1
        elif window not in best:
            best[window] = rows.sigma[i]
    scored = {w for w in rows.window[rows.probation :] if w is not None}
    total = outside + sum(best.get(w, -fn_weight) for w in sorted(scored))
    return total, len(best), n_outside
