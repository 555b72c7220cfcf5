"""``crisismon sentiment train`` for the linear model: a labelled CSV (optionally on top of the
shipped data) -> cross-validated figures -> a model file. Nothing is written when the input is
unusable or training fails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.sentiment.dataset import Labelled
from monitor.sentiment.errors import BadInput
from monitor.sentiment.features import Prepared, prepare
from monitor.sentiment.learn import cross_validate, honest_cut_figures, train_model
from monitor.sentiment.linear import LinearModel
from monitor.sentiment.linear import load as load_linear
from monitor.sentiment.metrics import CutFigures, best_cut, roc_auc

BITS = 19
MAX_N = 3
REGULARISATION = 10.0
MIN_ROWS = 20
MIN_PER_LABEL = 5
FOLDS = 5


@dataclass(frozen=True)
class Report:
    """What cross-validation on the team's rows says about the model about to be written."""

    rows: int
    negative: int
    positive: int
    unscored: int
    roc_auc: float
    at_cut: CutFigures
    honest: CutFigures


def prepared_rows(rows: Sequence[Labelled], weights: Sequence[float]) -> tuple[list[Prepared], list[int], list[float]]:
    """The rows the model can read (Chinese text), prepared, with their labels and weights."""
    prepared: list[Prepared] = []
    labels: list[int] = []
    kept: list[float] = []
    for row, weight in zip(rows, weights, strict=True):
        p = prepare(row.text)
        if p is not None:
            prepared.append(p)
            labels.append(row.label)
            kept.append(weight)
    return prepared, labels, kept


def check_rows(path: str | Path, rows: Sequence[Labelled]) -> None:
    """Enough rows of both labels to train on, or an error that says what is missing."""
    neg = sum(r.label == 0 for r in rows)
    pos = len(rows) - neg
    if neg == 0 or pos == 0:
        only = "negative (0)" if pos == 0 else "positive (1)"
        raise BadInput(f"{path}: every row is labelled {only}: training needs both labels (0 and 1)")
    if len(rows) < MIN_ROWS or min(neg, pos) < MIN_PER_LABEL:
        raise BadInput(
            f"{path}: {len(rows)} rows ({neg} negative, {pos} positive): training needs at least {MIN_ROWS} rows "
            f"and {MIN_PER_LABEL} of each label"
        )


def train(
    path: str | Path,
    rows: Sequence[Labelled],
    base: tuple[Sequence[Labelled], Sequence[float]] | None = None,
    row_weight: float = 1.0,
) -> tuple[LinearModel, Report]:
    """Cross-validates on ``rows`` (``base`` rows are in every training fold), then fits on all.

    The model's cut is the best balanced-accuracy cut of the out-of-fold scores; ``Report.honest``
    is the figure when each fold is cut where the other folds would put it."""
    check_rows(path, rows)
    own, own_labels, own_weights = prepared_rows(rows, [row_weight] * len(rows))
    unscored = len(rows) - len(own)
    if len(own) < MIN_ROWS or len(set(own_labels)) < 2:
        raise BadInput(
            f"{path}: only {len(own)} rows are Chinese text the model can read ({unscored} are not): "
            f"training needs at least {MIN_ROWS}, with both labels"
        )
    extra, extra_labels, extra_weights = prepared_rows(*base) if base else ([], [], [])
    prepared = own + extra
    labels = own_labels + extra_labels
    weights = own_weights + extra_weights
    evaluate = [True] * len(own) + [False] * len(extra)
    k = min(FOLDS, min(own_labels.count(0), own_labels.count(1)))
    start = load_linear() if base else None  # trained on the shipped data: a warm start
    scores, fold_of = cross_validate(prepared, labels, evaluate, weights, REGULARISATION, BITS, MAX_N, k, start=start)
    oof = [float(s) for s in scores[: len(own)]]
    best = best_cut(own_labels, oof)
    report = Report(
        len(own),
        own_labels.count(0),
        own_labels.count(1),
        unscored,
        roc_auc(own_labels, oof),
        best,
        honest_cut_figures(own_labels, oof, fold_of[: len(own)]),
    )
    model = train_model(prepared, labels, weights, REGULARISATION, BITS, MAX_N, best.cut, start=start)
    return model, report
