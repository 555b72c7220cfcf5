"""Score the ``anomaly`` detector on NAB-format series, beside a same-run windowed Gaussian.

    python bench/nab.py --data DIR [--windows FILE] [--out DIR] [--anchors FILE]
    python bench/nab.py --data DIR --cv [--loo CATEGORY] [--jobs N]

``--data`` is a folder of ``*.csv`` files (``timestamp,value``), at its top or in category
folders (a file's category is its folder's name). ``--windows`` is NAB's
``combined_windows.json`` (default: ``DATA/combined_windows.json``). Every file is run
through ``AnomalyParams()``'s defaults, one set for all files; labels are only used to
score. Alerts are discrete (1.0 on the bucket an alert fires, else 0.0) and scored with
NAB's standard profile at threshold 1. ``--out`` receives one ``timestamp,value,
anomaly_score`` file per series.

It prints per file, per category and in total: our score; the same-run windowed Gaussian
(mean and standard deviation of the same history, Gaussian tail as surprise), once with
our alerting stage and once alerting on every crossing; and, when ``anchor_scores.json``
is found (``--anchors``, default: beside the windows file), the published detectors' scores
on the same files. A category without windows shows the raw score (false alarms cost).

``--cv`` runs the cross-validation that chose the defaults (``bench/nab_cv.py``) and prints
the held-out figures. Bad input (a file without a ``value`` column, a bad row, a value that
is not a number, a file missing from the windows) is named with its file and line; the run
goes on and exits with status 1 at the end.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nab_cv
from nab_data import Scored, load_anchors, load_corpus, load_windows, score_facts
from nab_detectors import crisismon, replay_alerts, windowed_gaussian

from bench import nab_score as nab
from monitor.detect.anomaly import AnomalyParams

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab-realtweets-dev"
ANCHOR_ORDER = ("ARTime", "numenta", "contextOSE", "knncad", "earthgeckoSkyline", "windowedGaussian")


@dataclass
class Tally:
    """Counts and raw score over a group of files."""

    files: int = 0
    windows: int = 0
    found: int = 0
    alerts: int = 0
    outside: int = 0
    skipped: int = 0
    raw: float = 0.0

    def add(self, other: Tally) -> None:
        for name in ("files", "windows", "found", "alerts", "outside", "skipped", "raw"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Outcome:
    """One detector over the corpus: a tally per file, in corpus order."""

    title: str
    per_file: list[Tally] = field(default_factory=list)


def nab_score(raw: float, windows: int) -> str:
    """The normalised NAB score, or the raw score when there is no window to normalise by."""
    if windows == 0:
        return f"raw {raw:+.2f}"
    return f"{nab.normalise(raw, windows, nab.STANDARD):.1f}"


def tally(alerts: Sequence[bool], s: Scored, skipped: int = 0) -> Tally:
    raw, found, outside = nab.alert_score(alerts, s.rows)
    return Tally(1, s.n_windows, found, sum(alerts), outside, skipped, raw)


def group(corpus: Sequence[Scored], per_file: Sequence[Tally]) -> dict[str, Tally]:
    groups: dict[str, Tally] = {}
    for s, t in zip(corpus, per_file, strict=True):
        groups.setdefault(s.series.category, Tally()).add(t)
    return dict(sorted(groups.items()))


def total_of(per_file: Sequence[Tally]) -> Tally:
    out = Tally()
    for t in per_file:
        out.add(t)
    return out


def anchor_tally(anchors: dict[str, float], files: Sequence[Scored]) -> float | None:
    """A published detector's raw score over ``files`` (None if any file is missing)."""
    raws = [anchors.get(Path(s.series.name).name) for s in files]
    return None if any(r is None for r in raws) else sum(r for r in raws if r is not None)


# --- the default run ------------------------------------------------------------------


def run_defaults(
    corpus: Sequence[Scored], params: AnomalyParams, out_dir: Path | None
) -> tuple[list[Outcome], float, float]:
    """Our detector and the two baselines; the seconds ours and the baselines took."""
    ours = Outcome("crisismon anomaly (defaults)")
    started = time.perf_counter()
    runs = [crisismon(params, s.series.timestamps, s.series.values) for s in corpus]
    elapsed = time.perf_counter() - started
    for s, run in zip(corpus, runs, strict=True):
        ours.per_file.append(tally(run.alerts, s, run.skipped))
        if out_dir is not None:
            write_scores(out_dir / s.series.name, s, run.alerts)
    started = time.perf_counter()
    others = baselines(corpus, params)
    return [ours, *others], elapsed, time.perf_counter() - started


def baselines(corpus: Sequence[Scored], params: AnomalyParams) -> list[Outcome]:
    same = Outcome("windowed Gaussian, same alerting")
    plain = Outcome("windowed Gaussian, every crossing")
    for s in corpus:
        stream = windowed_gaussian(params.history, params.warmup, s.series.timestamps, s.series.values)
        skipped = sum(1 for x in stream if x is None)
        cooled = replay_alerts(stream, params.threshold, params.cooldown, params.rebound)
        same.per_file.append(tally(cooled, s, skipped))
        plain.per_file.append(tally(replay_alerts(stream, params.threshold, 0, 1.0), s, skipped))
    return [same, plain]


def write_scores(path: Path, s: Scored, alerts: Sequence[bool]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for ts, value, alert in zip(s.series.timestamps, s.series.values, alerts, strict=True):
            writer.writerow([ts.strftime("%Y-%m-%d %H:%M:%S"), _fmt(value), 1.0 if alert else 0.0])


def _fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def report_defaults(corpus: Sequence[Scored], outcomes: list[Outcome], anchors: dict[str, dict[str, float]]) -> None:
    ours = outcomes[0]
    print("\nper file (crisismon anomaly, defaults)")
    counts = f"{'windows':>7} {'found':>5} {'alerts':>6} {'outside':>7} {'skipped':>7}"
    print(f"  {'file':<56} {counts} {'raw':>8} {'NAB':>9}")
    for s, t in zip(corpus, ours.per_file, strict=True):
        counts = f"{t.windows:>7} {t.found:>5} {t.alerts:>6} {t.outside:>7} {t.skipped:>7}"
        print(f"  {s.series.name:<56} {counts} {t.raw:>8.3f} {nab_score(t.raw, t.windows):>9}")
    names = [n for n in ANCHOR_ORDER if n in anchors]
    header = "".join(f" | {o.title:>33}" for o in outcomes) + "".join(f" {n[:10]:>10}" for n in names)
    print("\nper category (NAB standard profile)")
    print(f"  {'category':<24} {'files':>5} {'windows':>7}{header}")
    grouped = [group(corpus, o.per_file) for o in outcomes]
    for category in grouped[0]:
        files = [s for s in corpus if s.series.category == category]
        _category_line(category, [g[category] for g in grouped], names, anchors, files)
    _category_line("total", [total_of(o.per_file) for o in outcomes], names, anchors, list(corpus))


def _category_line(
    label: str, tallies: list[Tally], names: list[str], anchors: dict[str, dict[str, float]], files: list[Scored]
) -> None:
    first = tallies[0]
    cells = ""
    for t in tallies:
        detail = f"{t.found}/{t.windows} found, {t.alerts} alerts"
        cells += f" | {detail:>22} {nab_score(t.raw, t.windows):>10}"
    for name in names:
        raw = anchor_tally(anchors[name], files)
        cells += f" {'-' if raw is None else nab_score(raw, first.windows):>10}"
    print(f"  {label:<24} {first.files:>5} {first.windows:>7}{cells}")


# --- cross-validation -------------------------------------------------------------------


def report_cv(corpus: Sequence[Scored], anchors: dict[str, dict[str, float]], loo: str, jobs: int) -> None:
    started = time.perf_counter()
    n_ours = len(nab_cv.DETECTOR_GRID) * len(nab_cv.ALERT_GRID)
    print(f"\ncross-validation over {n_ours} candidate settings ({len(nab_cv.DETECTOR_GRID)} detector settings x")
    print(f"{len(nab_cv.ALERT_GRID)} alerting settings); the windowed Gaussian baseline goes through the same")
    print("alerting stage and folds with its own grid (history x alerting). Each fold picks the setting with the")
    print("best NAB score on its training files; the figures are on its held-out files only.")
    ours, gaussian = nab_cv.candidates(corpus, jobs, lambda line: print(line, file=sys.stderr))
    loco, lofo = nab_cv.folds(corpus, loo)
    names = [n for n in ANCHOR_ORDER if n in anchors]
    _cv_table("leave one category out (train on the other categories)", corpus, loco, ours, gaussian, names, anchors)
    if lofo:
        title = f"leave one file out within {loo} (train on all other files)"
        _cv_table(title, corpus, lofo, ours, gaussian, names, anchors)
    everything = list(range(len(corpus)))
    chosen = nab_cv.best(ours, everything)
    raw = sum(chosen.raw)
    windows = sum(s.n_windows for s in corpus)
    same = "yes" if chosen.params == AnomalyParams() else "NO: update AnomalyParams' defaults"
    print(f"\nchosen on all {len(corpus)} files (the defaults; this figure is in-sample, DEV-only):")
    print(f"  {chosen.label} -> NAB {nab_score(raw, windows)}; AnomalyParams() has these settings: {same}")
    print(f"cross-validation took {time.perf_counter() - started:.0f} s")


def _cv_table(
    title: str,
    corpus: Sequence[Scored],
    cv_folds: list[nab_cv.Fold],
    ours: list[nab_cv.Candidate],
    gaussian: list[nab_cv.Candidate],
    names: list[str],
    anchors: dict[str, dict[str, float]],
) -> None:
    print(f"\n{title}")
    heads = "".join(f" {n[:10]:>10}" for n in names)
    print(f"  {'held out':<40} {'files':>5} {'windows':>7} {'crisismon':>10} {'Gaussian':>10}{heads}  chosen setting")
    totals = [0.0, 0.0]
    anchor_totals: dict[str, float | None] = dict.fromkeys(names, 0.0)
    all_windows = 0
    for fold in cv_folds:
        files = [corpus[i] for i in fold.test]
        windows = sum(s.n_windows for s in files)
        all_windows += windows
        chosen, ours_raw = nab_cv.held_out(ours, fold)
        _, gauss_raw = nab_cv.held_out(gaussian, fold)
        totals[0] += ours_raw
        totals[1] += gauss_raw
        cells = ""
        for n in names:
            raw = anchor_tally(anchors[n], files)
            previous = anchor_totals[n]
            anchor_totals[n] = None if raw is None or previous is None else previous + raw
            cells += f" {'-' if raw is None else nab_score(raw, windows):>10}"
        scores = f"{nab_score(ours_raw, windows):>10} {nab_score(gauss_raw, windows):>10}"
        print(f"  {fold.name:<40} {len(files):>5} {windows:>7} {scores}{cells}  {chosen.label}")
    cells = "".join(
        f" {'-' if anchor_totals[n] is None else nab_score(anchor_totals[n] or 0.0, all_windows):>10}" for n in names
    )
    n_files = sum(len(f.test) for f in cv_folds)
    scores = f"{nab_score(totals[0], all_windows):>10} {nab_score(totals[1], all_windows):>10}"
    print(f"  {'total (held-out folds)':<40} {n_files:>5} {all_windows:>7} {scores}{cells}")


# --- command line ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of NAB csv files (nested folders ok)")
    parser.add_argument("--windows", type=Path, default=None, help="combined_windows.json (default: DATA/...)")
    parser.add_argument("--out", type=Path, default=Path("out/nab"), help="where to write scored csv files")
    parser.add_argument("--anchors", type=Path, default=None, help="anchor_scores.json (default: beside --windows)")
    parser.add_argument("--cv", action="store_true", help="run the cross-validation that chose the defaults")
    parser.add_argument("--loo", default="realTweets", help="category for leave-one-file-out in --cv")
    parser.add_argument("--jobs", type=int, default=1, help="processes for --cv (default 1)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    windows_path = args.windows or args.data / "combined_windows.json"
    if not args.data.is_dir() or not windows_path.is_file():
        print(f"no NAB data at {args.data} (windows {windows_path}); pass --data and --windows", file=sys.stderr)
        return 2
    windows, problems = load_windows(windows_path)
    series, read_problems = load_corpus(args.data)
    corpus, score_problems = score_facts(series, windows)
    problems += read_problems + score_problems
    anchors = load_anchors(args.anchors or windows_path.parent / "anchor_scores.json")
    rows = sum(len(s.series.values) for s in corpus)
    print(f"data: {args.data} ({len(corpus)} files, {rows:,} rows, {sum(s.n_windows for s in corpus)} windows)")
    if args.cv:
        report_cv(corpus, anchors, args.loo, args.jobs)
    else:
        _default_run(corpus, anchors, args.out, rows)
    return _finish(problems)


def _default_run(corpus: Sequence[Scored], anchors: dict[str, dict[str, float]], out: Path, rows: int) -> None:
    params = AnomalyParams()
    print(f"detector: {params}")
    out.mkdir(parents=True, exist_ok=True)
    outcomes, elapsed, gauss_elapsed = run_defaults(corpus, params, out)
    report_defaults(corpus, outcomes, anchors)
    per_row = 1e6 * elapsed / max(rows, 1)
    ratio = elapsed / max(gauss_elapsed, 1e-9)
    print(f"\ntime: crisismon {elapsed:.1f} s for {rows:,} rows ({per_row:.0f} us per row), {ratio:.1f}x the two")
    print(f"windowed-Gaussian baselines of the same run ({gauss_elapsed:.1f} s); scored csv files in {out}")
    totals = [total_of(o.per_file) for o in outcomes]
    scores = [nab_score(t.raw, t.windows) for t in totals]
    print(f"NAB standard score: detector {scores[0]}; baselines {scores[1]} / {scores[2]}")


def _finish(problems: list[str]) -> int:
    if not problems:
        return 0
    print(f"\n{len(problems)} problem(s) in the input (the rest was scored):", file=sys.stderr)
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
