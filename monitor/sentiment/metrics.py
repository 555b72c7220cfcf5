"""Classification figures for scores against labels (1 = positive, 0 = negative)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CutFigures:
    """How well ``score < cut`` finds the negative items."""

    cut: float
    accuracy: float
    balanced_accuracy: float
    recall_negative: float
    recall_positive: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def at_cut(labels: Sequence[int], scores: Sequence[float], cut: float) -> CutFigures:
    """Accuracy and balanced accuracy when items scoring below ``cut`` are called negative."""
    if not labels:
        raise ValueError("no scored items to evaluate")
    hits = {0: 0, 1: 0}
    totals = {0: 0, 1: 0}
    for label, score in zip(labels, scores, strict=True):
        totals[label] += 1
        hits[label] += (score >= cut) == (label == 1)
    recall = {k: hits[k] / totals[k] if totals[k] else 0.0 for k in (0, 1)}
    present = [recall[k] for k in (0, 1) if totals[k]]
    return CutFigures(
        cut,
        (hits[0] + hits[1]) / len(labels),
        sum(present) / len(present),
        recall[0],
        recall[1],
    )


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve: P(a positive outscores a negative), ties counting half."""
    pairs = sorted(zip(scores, labels, strict=True))
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        raise ValueError("ROC AUC needs both positive and negative items")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + j + 1) / 2  # ranks i+1..j share their mean
        rank_sum += mid_rank * sum(label for _, label in pairs[i:j])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def best_cut(labels: Sequence[int], scores: Sequence[float], step: float = 0.01) -> CutFigures:
    """The cut (on a grid of ``step``) with the best balanced accuracy; the lower on ties."""
    grid = [round(i * step, 10) for i in range(1, round(1 / step))]
    return max((at_cut(labels, scores, c) for c in grid), key=lambda f: f.balanced_accuracy)
