"""Run the default anomaly detector over NAB-format series and print its NAB score.

    python bench/nab.py --data DIR --windows FILE --out DIR

For every ``*.csv`` in ``--data`` (``timestamp,value``) it writes ``--out/<name>.csv`` with
``timestamp,value,anomaly_score`` (1.0 where an alert fires, else 0.0), then prints the
per-file and total NAB standard-profile scores (discrete alerts are scored at θ = 1), and
the same figures for a same-run baseline: a windowed-Gaussian detector (mean and standard
deviation of the last week, the same z bar as ours), once alerting on every crossing and
once with our cool-down after each alert. One set of parameters
(``AnomalyParams()``'s defaults) for every file; labels are only used for scoring.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import nab
from monitor.detect.anomaly import AnomalyParams, detect_series

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab-realtweets-dev"

Detector = Callable[[Sequence[datetime], Sequence[float]], list[float]]


@dataclass(frozen=True)
class Series:
    name: str
    timestamps: list[datetime]
    values: list[float]


@dataclass(frozen=True)
class FileResult:
    name: str
    score: nab.ThresholdScore
    alerts: int
    n_windows: int
    detected: int


def read_series(path: Path) -> Series:
    """A NAB data file: header ``timestamp,value``."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return Series(
        path.name,
        [nab.parse_timestamp(r["timestamp"]) for r in rows],
        [float(r["value"]) for r in rows],
    )


def write_scores(path: Path, series: Series, scores: Sequence[float]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for ts, value, score in zip(series.timestamps, series.values, scores, strict=True):
            writer.writerow([ts.strftime("%Y-%m-%d %H:%M:%S"), _fmt(value), score])


def _fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def anomaly_detector(params: AnomalyParams) -> Detector:
    def run(timestamps: Sequence[datetime], values: Sequence[float]) -> list[float]:
        return [1.0 if r.fired else 0.0 for r in detect_series(params, timestamps, values)]

    return run


def windowed_gaussian(window: int = 2016, z: float = 4.0, cooldown: timedelta = timedelta(0)) -> Detector:
    """Baseline: alert when a value is ``z`` standard deviations above the mean of the last
    ``window`` values; after an alert, stay silent for ``cooldown``."""

    def run(timestamps: Sequence[datetime], values: Sequence[float]) -> list[float]:
        recent: deque[float] = deque(maxlen=window)
        total = total_sq = 0.0
        quiet_until: datetime | None = None
        out = []
        for ts, value in zip(timestamps, values, strict=True):
            n = len(recent)
            mean = total / n if n else 0.0
            std = math.sqrt(max(total_sq / n - mean * mean, 0.0)) if n else 0.0
            fire = n >= 2 and std > 0 and (value - mean) / std >= z
            fire = fire and (quiet_until is None or ts >= quiet_until)
            if fire:
                quiet_until = ts + cooldown
            out.append(1.0 if fire else 0.0)
            if n == window:
                total, total_sq = total - recent[0], total_sq - recent[0] ** 2
            recent.append(value)
            total, total_sq = total + value, total_sq + value * value
        return out

    return run


def score_corpus(
    series: Sequence[Series],
    windows: dict[str, list[nab.Window]],
    detector: Detector,
    out_dir: Path | None,
) -> list[FileResult]:
    results = []
    for s in series:
        scores = detector(s.timestamps, s.values)
        if out_dir is not None:
            write_scores(out_dir / s.name, s, scores)
        file_windows = nab.windows_for(windows, s.name)
        rows = nab.score_rows(s.timestamps, file_windows, nab.STANDARD, s.name)
        score = nab.file_score(scores, rows, 1.0, nab.STANDARD)
        found = _detected(scores, rows)
        results.append(FileResult(s.name, score, int(sum(scores)), len(file_windows), found))
    return results


def _detected(scores: Sequence[float], rows: nab.ScoredRows) -> int:
    """How many windows hold at least one scored alert."""
    hit = {rows.window[i] for i in range(rows.probation, len(scores)) if scores[i] >= 1.0}
    return len(hit - {None})


def report(title: str, results: Sequence[FileResult]) -> float:
    n_windows = sum(r.n_windows for r in results)
    total = sum(r.score.score for r in results)
    normalised = nab.normalise(total, n_windows, nab.STANDARD)
    print(f"{title}")
    print(f"  {'file':<26} {'windows':>7} {'found':>5} {'alerts':>6} {'outside':>7} {'raw':>8} {'NAB':>6}")
    for r in results:
        s, alone = r.score, nab.normalise(r.score.score, r.n_windows, nab.STANDARD)
        counts = f"{r.n_windows:>7} {r.detected:>5} {r.alerts:>6} {s.fp:>7}"
        print(f"  {r.name:<26} {counts} {s.score:>8.3f} {alone:>6.1f}")
    print(f"  total raw {total:.3f} over {n_windows} windows -> NAB standard score {normalised:.1f}")
    return normalised


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of NAB csv files")
    parser.add_argument(
        "--windows",
        type=Path,
        default=None,
        help="combined_windows.json (default: DATA/combined_windows.json)",
    )
    parser.add_argument("--out", type=Path, default=Path("out/nab"), help="where to write scored csv files")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    windows_path = args.windows or args.data / "combined_windows.json"
    if not args.data.is_dir() or not windows_path.is_file():
        print(f"no NAB data at {args.data} (windows {windows_path}); pass --data and --windows", file=sys.stderr)
        return 2
    windows = nab.load_windows(windows_path)
    series = [read_series(p) for p in sorted(args.data.glob("*.csv"))]
    args.out.mkdir(parents=True, exist_ok=True)
    params = AnomalyParams()
    print(f"detector: {params}")
    started = time.perf_counter()
    results = score_corpus(series, windows, anomaly_detector(params), args.out)
    ours = report("crisismon anomaly detector (defaults)", results)
    elapsed = time.perf_counter() - started
    print(f"  {sum(len(s.values) for s in series)} rows in {elapsed:.1f}s; scored csv files in {args.out}")
    z, cooldown = params.threshold, params.cooldown
    plain = report(
        f"baseline: windowed Gaussian (1 week, z >= {z:g}, every crossing alerts)",
        score_corpus(series, windows, windowed_gaussian(2016, z), None),
    )
    cooled = report(
        f"baseline: windowed Gaussian (1 week, z >= {z:g}, {_hours(cooldown)} cool-down)",
        score_corpus(series, windows, windowed_gaussian(2016, z, cooldown), None),
    )
    print(f"NAB standard score: detector {ours:.1f}; baselines {plain:.1f} / {cooled:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
