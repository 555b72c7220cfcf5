"""Cross-validation that chooses the ``anomaly`` detector's defaults (``bench/nab.py --cv``).

Every candidate setting is one ``AnomalyParams``: a detector setting from
:data:`DETECTOR_GRID` times an alerting setting from :data:`ALERT_GRID`, nothing else
(all other parameters keep their defaults). Each fold picks, among all candidates, the one
with the best summed NAB raw score on its *training* files, and reports that candidate's
score on its *held-out* files only:

- **leave one category out**: each NAB category in turn is held out, the others train;
- **leave one file out** within one category (realTweets by default): each of its files is
  held out in turn, the other files of the whole corpus train.

The settings chosen on *all* files are the shipped defaults (the bench says whether
``AnomalyParams()`` still equals them); their score on all files is in-sample (DEV-only).
The windowed-Gaussian baseline goes through the same stage and the same folds with its
own grid (history x alerting), so it gets the same chance. The published detectors'
figures are at their published thresholds, which NAB chose on the whole corpus.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from nab_data import Scored
from nab_detectors import Surprises, crisismon, replay_alerts, windowed_gaussian

from bench import nab_score as nab
from monitor.detect.anomaly import AnomalyParams

DETECTOR_GRID: list[dict[str, object]] = [
    {"history": h, "season": s, "log_tail": lt, "median_window": m}
    for h, s, lt, m in itertools.product((4032, 8640), ("none", "hour_of_day"), (True, False), (36, 72))
]
ALERT_GRID: list[dict[str, float]] = [
    {"threshold": t, "cooldown": c, "rebound": r}
    for t, c, r in itertools.product((3.0, 3.25, 3.5, 3.75, 4.0), (48, 96, 192), (1.5, 3.0))
]
GAUSSIAN_HISTORIES = (2016, 4032, 8640)


@dataclass(frozen=True)
class Candidate:
    label: str
    params: AnomalyParams
    raw: tuple[float, ...]  # per file, in corpus order


@dataclass(frozen=True)
class Fold:
    name: str
    test: list[int]
    train: list[int]


def candidates(
    corpus: Sequence[Scored], jobs: int, progress: Callable[[str], None]
) -> tuple[list[Candidate], list[Candidate]]:
    """Every (crisismon, windowed Gaussian) candidate with its per-file raw scores."""
    ours: list[Candidate] = []
    for d, detector in enumerate(DETECTOR_GRID):
        base = AnomalyParams(**detector)  # type: ignore[arg-type]
        streams = _surprises(corpus, base, jobs)
        ours.extend(_alerting_candidates(corpus, base, streams, _label(detector)))
        progress(f"  detector setting {d + 1}/{len(DETECTOR_GRID)} done")
    gaussian: list[Candidate] = []
    for history in GAUSSIAN_HISTORIES:
        base = AnomalyParams(history=history)
        streams = [windowed_gaussian(history, base.warmup, s.series.timestamps, s.series.values) for s in corpus]
        gaussian.extend(_alerting_candidates(corpus, base, streams, f"history={history}"))
    return ours, gaussian


def _label(settings: dict[str, object]) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items())


def _alerting_candidates(
    corpus: Sequence[Scored], base: AnomalyParams, streams: list[Surprises], label: str
) -> list[Candidate]:
    out = []
    for alert in ALERT_GRID:
        params = replace(base, threshold=alert["threshold"], cooldown=int(alert["cooldown"]), rebound=alert["rebound"])
        raw = tuple(
            nab.alert_score(replay_alerts(stream, params.threshold, params.cooldown, params.rebound), s.rows)[0]
            for stream, s in zip(streams, corpus, strict=True)
        )
        out.append(Candidate(f"{label} {_label(alert)}", params, raw))
    return out


_WORK: tuple[Sequence[Scored], AnomalyParams] | None = None


def _one(index: int) -> Surprises:
    assert _WORK is not None
    corpus, params = _WORK
    s = corpus[index].series
    return crisismon(params, s.timestamps, s.values).surprises


def _surprises(corpus: Sequence[Scored], params: AnomalyParams, jobs: int) -> list[Surprises]:
    global _WORK
    _WORK = (corpus, params)
    if jobs <= 1:
        return [_one(i) for i in range(len(corpus))]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.map(_one, range(len(corpus)), chunksize=1)


def folds(corpus: Sequence[Scored], loo_category: str) -> tuple[list[Fold], list[Fold]]:
    """(leave one category out, leave one file out within ``loo_category``)."""
    everything = list(range(len(corpus)))
    by_category: dict[str, list[int]] = {}
    for i, s in enumerate(corpus):
        by_category.setdefault(s.series.category, []).append(i)
    loco = [Fold(c, test, [i for i in everything if i not in test]) for c, test in sorted(by_category.items())]
    lofo = [
        Fold(corpus[i].series.name, [i], [j for j in everything if j != i]) for i in by_category.get(loo_category, [])
    ]
    return loco, lofo


def best(pool: Sequence[Candidate], train: Sequence[int]) -> Candidate:
    """The candidate with the best training score; ties go to the higher threshold, then grid order."""
    return max(pool, key=lambda c: (round(sum(c.raw[i] for i in train), 9), c.params.threshold))


def held_out(pool: Sequence[Candidate], fold: Fold) -> tuple[Candidate, float]:
    chosen = best(pool, fold.train)
    return chosen, sum(chosen.raw[i] for i in fold.test)
