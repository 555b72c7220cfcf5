"""bench/nab.py: bad input named by file and line, nested folders, no windows, CV folds.

The end-to-end runs on the real NAB files live in tests/test_nab.py (they skip without the
data); these build small NAB-format corpora in a temporary folder.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bench import nab_score as nab
from monitor.detect.anomaly import Alerting, AnomalyParams

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import nab_cv
from nab_data import Scored, Series, load_corpus
from nab_detectors import replay_alerts

BENCH = ROOT / "bench" / "nab.py"
T0 = datetime(2015, 3, 1)  # noqa: DTZ001 - naive, as the NAB files give it
STEP = timedelta(minutes=5)


def write_csv(path: Path, rows: list[str], header: str = "timestamp,value") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def series_rows(n: int, spike_at: int | None = None, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        value = 500 if i == spike_at else rng.randint(3, 9)
        rows.append(f"{(T0 + STEP * i):%Y-%m-%d %H:%M:%S},{value}")
    return rows


def stamp(i: int) -> str:
    return f"{(T0 + STEP * i):%Y-%m-%d %H:%M:%S}.000000"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, check=False)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Two categories in nested folders, one without windows, and every kind of bad input."""
    data = tmp_path / "data"
    write_csv(data / "counts" / "good.csv", series_rows(2000, spike_at=1500))
    write_csv(data / "quiet" / "flat.csv", series_rows(1500))
    rows = series_rows(1200, spike_at=900, seed=2)
    rows[10] = "2015-03-01 00:50:00,lots"  # not a number (line 12)
    rows[20] = "yesterday,4"  # bad timestamp (line 22)
    rows[30] = "2015-03-01 02:30:00"  # missing field (line 32)
    rows[600] = rows[599]  # a duplicate timestamp (the detector skips it)
    rows[700] = rows[100]  # a timestamp that goes backwards (skipped too)
    write_csv(data / "counts" / "messy.csv", rows)
    write_csv(data / "counts" / "novalue.csv", series_rows(50), header="timestamp,count")
    write_csv(data / "counts" / "unlisted.csv", series_rows(300))
    windows = {
        "counts/good.csv": [[stamp(1450), stamp(1550)]],
        "counts/messy.csv": [[stamp(850), stamp(950)]],
        "counts/novalue.csv": [],
        "quiet/flat.csv": [],
    }
    (tmp_path / "windows.json").write_text(json.dumps(windows), encoding="utf-8")
    return tmp_path


def test_bad_input_is_named_by_file_and_line_and_the_rest_is_scored(corpus: Path) -> None:
    done = run_bench("--data", str(corpus / "data"), "--windows", str(corpus / "windows.json"), "--out", str(corpus))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    data = corpus / "data"
    for message in (
        f"{data / 'counts' / 'messy.csv'}:12: value 'lots', expected a finite number; scored as no alert",
        f"{data / 'counts' / 'messy.csv'}:22: timestamp 'yesterday', expected YYYY-MM-DD HH:MM:SS; row skipped",
        f"{data / 'counts' / 'messy.csv'}:32: 1 fields, expected 2; row skipped",
        f"{data / 'counts' / 'novalue.csv'}:1: missing column value",
        "counts/unlisted.csv:1: 0 window entries match 'unlisted.csv'; expected exactly 1; file not scored",
    ):
        assert message in done.stderr, done.stderr
    out = done.stdout
    assert "counts/good.csv" in out and "counts/messy.csv" in out and "quiet/flat.csv" in out
    messy = next(line for line in out.splitlines() if "counts/messy.csv" in line).split()
    assert messy[5] == "3"  # skipped by the detector: the value that is not a number, the duplicate, the late row
    quiet = next(line for line in out.splitlines() if line.strip().startswith("quiet "))
    assert "raw" in quiet  # no windows: the raw score (false alarms), no division by zero
    assert (corpus / "counts" / "good.csv").is_file()  # scored files keep the folder layout


def test_a_corpus_without_any_window_prints_raw_scores(tmp_path: Path) -> None:
    write_csv(tmp_path / "data" / "a.csv", series_rows(800))
    (tmp_path / "windows.json").write_text(json.dumps({"a.csv": []}), encoding="utf-8")
    done = run_bench("--data", str(tmp_path / "data"), "--windows", str(tmp_path / "windows.json"))
    assert done.returncode == 0, done.stderr
    assert "NAB standard score: detector raw" in done.stdout


def test_missing_data_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = run_bench("--data", str(tmp_path / "nope"))
    assert done.returncode == 2 and "pass --data and --windows" in done.stderr


def test_load_corpus_reads_nested_folders_and_names_categories(corpus: Path) -> None:
    series, problems = load_corpus(corpus / "data")
    assert [(s.name, s.category) for s in series] == [
        ("counts/good.csv", "counts"),
        ("counts/messy.csv", "counts"),
        ("counts/unlisted.csv", "counts"),
        ("quiet/flat.csv", "quiet"),
    ]
    assert len(problems) == 4


def test_alert_score_equals_nab_file_score_for_discrete_alerts() -> None:
    rng = random.Random(3)
    ts = [T0 + STEP * i for i in range(600)]
    windows = [(ts[100], ts[149]), (ts[300], ts[359]), (ts[500], ts[530])]
    for profile in nab.PROFILES.values():
        rows = nab.score_rows(ts, windows, profile, "f")
        for _ in range(20):
            alerts = [rng.random() < 0.02 for _ in ts]
            scores = [1.0 if a else 0.0 for a in alerts]
            expected = nab.file_score(scores, rows, 1.0, profile).score
            assert nab.alert_score(alerts, rows, profile.fn_weight)[0] == pytest.approx(expected, abs=1e-12)


def test_replayed_alerts_decide_exactly_as_the_detector() -> None:
    rng = random.Random(4)
    for _ in range(30):
        stream: list[float | None] = [
            None if rng.random() < 0.02 else rng.choice([rng.random() * 3, rng.random() * 12]) for _ in range(400)
        ]
        threshold, cooldown, rebound = rng.choice([3.0, 3.5]), rng.choice([0, 5, 40]), rng.choice([1.0, 1.5, 3.0])
        alerting = Alerting(threshold, cooldown, rebound)
        expected = [False if s is None else alerting.step(s) for s in stream]
        assert replay_alerts(stream, threshold, cooldown, rebound) == expected


def scored(name: str, category: str, windows: int) -> Scored:
    ts = [T0 + STEP * i for i in range(10)]
    rows = nab.score_rows(ts, [], nab.STANDARD, name)
    return Scored(Series(name, category, ts, [0.0] * 10), rows, windows)


def test_folds_hold_out_each_category_and_each_file_of_one_category() -> None:
    corpus = [scored("a/1", "a", 1), scored("a/2", "a", 1), scored("b/1", "b", 2), scored("t/1", "t", 1)]
    loco, lofo = nab_cv.folds(corpus, "a")
    assert [(f.name, f.test, f.train) for f in loco] == [
        ("a", [0, 1], [2, 3]),
        ("b", [2], [0, 1, 3]),
        ("t", [3], [0, 1, 2]),
    ]
    assert [(f.name, f.test, f.train) for f in lofo] == [("a/1", [0], [1, 2, 3]), ("a/2", [1], [0, 2, 3])]


def test_each_fold_is_scored_by_the_candidate_best_on_its_training_files_only() -> None:
    good_on_a = nab_cv.Candidate("x", AnomalyParams(threshold=3.0), (2.0, 2.0, -1.0))
    good_on_b = nab_cv.Candidate("y", AnomalyParams(threshold=3.5), (-1.0, -1.0, 2.0))
    fold = nab_cv.Fold("b", test=[2], train=[0, 1])
    chosen, raw = nab_cv.held_out([good_on_a, good_on_b], fold)
    assert chosen is good_on_a and raw == -1.0  # the held-out file does not get to choose
    tie = nab_cv.Candidate("z", AnomalyParams(threshold=3.75), (2.0, 2.0, 0.0))
    assert nab_cv.best([good_on_a, tie], [0, 1]) is tie  # ties go to the higher threshold
