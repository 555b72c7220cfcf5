"""Training the linear model: L2-regularised logistic regression, fitted with L-BFGS in numpy.

Minimises  sum_i s_i * log(1 + exp(-y_i z_i)) + (||weights||^2 + ||layers||^2) / (2 C)
over the bucket weights, the layer weights and the bias (not regularised), where s_i is a
per-row weight. ``cross_validate`` gives out-of-fold scores; ``honest_cut_figures`` evaluates
each fold at a cut chosen on the other folds, so the reported figure is not chosen on the data
it is reported on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.sentiment.features import EXTRAS, Prepared, ngram_pairs
from monitor.sentiment.linear import LinearModel, sigmoid
from monitor.sentiment.metrics import CutFigures, at_cut, best_cut

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Design:
    """The training matrix: sparse n-gram part (row, column, value) and dense layer counts."""

    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    vals: Floats
    extras: Floats
    n_rows: int
    n_cols: int

    @classmethod
    def build(cls, prepared: Sequence[Prepared], bits: int, max_n: int) -> Design:
        doc, bucket, counts = ngram_pairs([p.text for p in prepared], bits, max_n)
        vals = 1.0 / np.sqrt(np.maximum(counts[doc], 1))
        extras = np.array([p.extras for p in prepared], dtype=np.float64).reshape(len(prepared), len(EXTRAS))
        return cls(doc, bucket, vals, extras, len(prepared), 1 << bits)

    def subset(self, index: npt.NDArray[np.int64]) -> Design:
        keep = np.zeros(self.n_rows, dtype=bool)
        keep[index] = True
        new_id = np.full(self.n_rows, -1, dtype=np.int64)
        new_id[np.sort(index)] = np.arange(len(index))
        mask = keep[self.rows]
        return Design(
            new_id[self.rows[mask]],
            self.cols[mask],
            self.vals[mask],
            self.extras[np.sort(index)],
            len(index),
            self.n_cols,
        )


def fit(
    design: Design,
    labels: npt.NDArray[np.int64],
    sample_weight: Floats,
    c: float,
    max_iter: int = 300,
    start: LinearModel | None = None,
) -> tuple[npt.NDArray[np.float32], float, tuple[float, ...]]:
    """(bucket weights, bias, layer weights) of the regularised logistic regression.

    Only the buckets that occur in the data are optimised: the others stay at 0, which is
    their optimum under the L2 penalty. ``start`` (a model with the same hashing) is where the
    search begins: the shipped model, when training on top of the shipped data, is close to
    the answer, so far fewer steps are needed."""
    active = np.flatnonzero(np.bincount(design.cols, minlength=design.n_cols))
    position = np.zeros(design.n_cols, dtype=np.int64)
    position[active] = np.arange(len(active))
    cols = position[design.cols]
    d, k = len(active), design.extras.shape[1]
    y = labels.astype(np.float64)
    inv_c = 1.0 / c

    def objective(theta: Floats) -> tuple[float, Floats]:
        w, layers, b = theta[:d], theta[d : d + k], theta[-1]
        z = b + np.bincount(design.rows, weights=design.vals * w[cols], minlength=design.n_rows)
        z = z + design.extras @ layers
        # log(1 + exp(-z)) for y = 1, log(1 + exp(z)) for y = 0, computed stably
        signed = np.where(y > 0, -z, z)
        loss = float(np.sum(sample_weight * np.logaddexp(0.0, signed)))
        loss += 0.5 * inv_c * float(w @ w + layers @ layers)
        r = sample_weight * (sigmoid(z) - y)
        grad = np.empty_like(theta)
        grad[:d] = np.bincount(cols, weights=design.vals * r[design.rows], minlength=d) + inv_c * w
        grad[d : d + k] = design.extras.T @ r + inv_c * layers
        grad[-1] = r.sum()
        return loss, grad

    x0 = np.zeros(d + k + 1)
    if start is not None and len(start.weights) == design.n_cols:
        x0[:d] = start.weights[active]
        x0[d : d + k] = start.layers
        x0[-1] = start.bias
    theta = lbfgs(objective, x0, max_iter=max_iter)
    weights = np.zeros(design.n_cols, dtype=np.float32)
    weights[active] = theta[:d]
    return weights, float(theta[-1]), tuple(float(v) for v in theta[d : d + k])


def lbfgs(
    objective: Callable[[Floats], tuple[float, Floats]],
    x0: Floats,
    max_iter: int = 300,
    memory: int = 10,
    tol: float = 1e-5,
) -> Floats:
    """Minimises a smooth convex function (value and gradient) from ``x0``: limited-memory BFGS
    with a backtracking (Armijo) line search. Stops when the largest gradient component is below
    ``tol`` times the starting one, when a step gains nothing, or after ``max_iter`` steps."""
    x = x0.copy()
    f, g = objective(x)
    g0 = float(np.max(np.abs(g))) or 1.0
    s_hist: list[Floats] = []
    y_hist: list[Floats] = []
    for _ in range(max_iter):
        if float(np.max(np.abs(g))) <= tol * g0:
            break
        q = g.copy()
        alphas = []
        for s, yv in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = float(s @ q) / float(yv @ s)
            alphas.append(a)
            q -= a * yv
        if s_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        else:
            q /= float(np.linalg.norm(q)) or 1.0
        for (s, yv), a in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
            beta = float(yv @ q) / float(yv @ s)
            q += (a - beta) * s
        direction = -q
        slope = float(g @ direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist.clear()
            y_hist.clear()
            direction = -g / (float(np.linalg.norm(g)) or 1.0)
            slope = float(g @ direction)
        step = 1.0
        while True:
            x_new = x + step * direction
            f_new, g_new = objective(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        if f - f_new <= 1e-10 * max(1.0, abs(f)):
            x, f, g = x_new, f_new, g_new
            break
        s_vec, y_vec = x_new - x, g_new - g
        if float(s_vec @ y_vec) > 1e-12:
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        x, f, g = x_new, f_new, g_new
    return x


def train_model(
    prepared: Sequence[Prepared],
    labels: Sequence[int],
    sample_weight: Sequence[float] | None = None,
    c: float = 10.0,
    bits: int = 19,
    max_n: int = 3,
    cut: float = 0.5,
    start: LinearModel | None = None,
) -> LinearModel:
    """A model fitted on all the rows (from ``start`` if given, see ``fit``)."""
    design = Design.build(prepared, bits, max_n)
    weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w, b, layers = fit(design, np.asarray(labels, dtype=np.int64), weights, c, start=start)
    return LinearModel(w, b, layers, cut, max_n)


def folds(labels: Sequence[int], k: int, seed: int = 0, groups: Sequence[int] | None = None) -> list[int]:
    """A stratified fold number per row, reproducible from ``seed``."""
    rng = random.Random(seed)
    out = [0] * len(labels)
    for label in sorted(set(labels)):
        members = [i for i, v in enumerate(labels) if v == label]
        rng.shuffle(members)
        for j, i in enumerate(members):
            out[i] = j % k
    return out


def cross_validate(
    prepared: Sequence[Prepared],
    labels: Sequence[int],
    evaluate: Sequence[bool],
    sample_weight: Sequence[float] | None = None,
    c: float = 10.0,
    bits: int = 19,
    max_n: int = 3,
    k: int = 5,
    seed: int = 0,
    start: LinearModel | None = None,
) -> tuple[Floats, list[int]]:
    """Out-of-fold P(positive) for the rows where ``evaluate`` is true (NaN elsewhere), and the
    fold of each row. Rows not evaluated are in every training fold (e.g. shipped data)."""
    design = Design.build(prepared, bits, max_n)
    y = np.asarray(labels, dtype=np.int64)
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    evaluated = np.asarray(evaluate, dtype=bool)
    fold_of = [-1] * len(y)
    idx = np.flatnonzero(evaluated)
    for i, f in zip(idx, folds([int(y[i]) for i in idx], k, seed), strict=True):
        fold_of[int(i)] = f
    fold_arr = np.asarray(fold_of)
    scores = np.full(len(y), np.nan)
    for f in range(k):
        test = np.flatnonzero(fold_arr == f)
        if len(test) == 0:
            continue
        train = np.flatnonzero(fold_arr != f)
        w, b, layers = fit(design.subset(train), y[train], weights[train], c, start=start)
        model = LinearModel(w, b, layers, 0.5, max_n)
        scores[test] = model.probabilities([prepared[int(i)] for i in test])
    return scores, fold_of


def honest_cut_figures(labels: Sequence[int], scores: Sequence[float], fold_of: Sequence[int]) -> CutFigures:
    """Balanced accuracy etc. when each fold is cut at the best cut of the other folds' scores."""
    calls: list[tuple[int, float]] = []
    for f in sorted(set(fold_of)):
        others = [(lab, s) for lab, s, g in zip(labels, scores, fold_of, strict=True) if g != f]
        cut = best_cut([lab for lab, _ in others], [s for _, s in others]).cut
        # rescale this fold's scores so that its cut sits at 0.5: one call per row
        calls.extend(
            (lab, 1.0 if s >= cut else 0.0) for lab, s, g in zip(labels, scores, fold_of, strict=True) if g == f
        )
    return at_cut([lab for lab, _ in calls], [s for _, s in calls], 0.5)
