"""How rare is a value, given the values seen before it? (pure, streaming, bounded memory)

:class:`SlidingWindow` keeps the last ``size`` values of a stream twice: in arrival order
(a ring) and sorted (for ranks, medians and the tail). :func:`surprise` answers, for a new
value ``x``, how rare a value at least that high (and at least that low) has been:

- **Inside the bulk** (``x`` not beyond the ``k``-th most extreme value, ``k = tail × n``):
  the empirical rank, ``p = (c + 1)/(n + 1)`` where ``c`` values of the ``n`` were at least
  as extreme.
- **Beyond it** (peaks over threshold): the ``k`` most extreme values define an
  exponential tail, ``P(X > t + e) = k/(n + 1) · exp(-e/β)`` with ``t`` the ``k``-th most
  extreme value and ``β`` the mean excess of the others over ``t``. A value that the
  history has already reached ``c`` times is never called rarer than ``(c + 1)/(n + 1)``:
  the model only speaks where the data are silent. That is the
  generalised-Pareto tail of extreme-value theory with shape 0, the self-calibrating
  threshold of SPOT (Siffer et al., KDD 2017) without its shape estimate (which was less
  stable on our data, see docs/detection.md).

The answer is a *surprise*, ``-log10 p``: 2 means "happens once in 100 values", 4 once in
10,000. It is scale-free: multiplying a series by 1000 changes nothing. ``β`` is floored
at ``floor × (max - min of the window)``, at ``bulk_floor × (its interquartile range)``
and at ``min_scale`` (in the series' own units), so that a history whose top values are
all equal (counts, medians) does not make the next small step a once-in-a-billion event.
A value beyond a perfectly flat history (range 0, no ``min_scale``) is
:data:`MAX_SURPRISE`.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable

MAX_SURPRISE = 20.0
"""Surprise reported for a value beyond a history with no spread at all (1 in 10^20)."""

_LN10 = math.log(10.0)


class SlidingWindow:
    """The last ``size`` values, in arrival order and sorted; 16 bytes per value."""

    __slots__ = ("_head", "_ring", "_size", "sorted")

    def __init__(self, size: int, values: Iterable[float] = ()) -> None:
        self._size = size
        self._ring = array("d")
        self._head = 0
        self.sorted = array("d")
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return len(self._ring)

    def add(self, value: float) -> None:
        """Append ``value``; the oldest value leaves once the window is full."""
        if len(self._ring) < self._size:
            self._ring.append(value)
        else:
            old = self._ring[self._head]
            del self.sorted[bisect_left(self.sorted, old)]
            self._ring[self._head] = value
            self._head = (self._head + 1) % self._size
        insort(self.sorted, value)

    def in_order(self) -> list[float]:
        """The values, oldest first."""
        return list(self._ring[self._head :]) + list(self._ring[: self._head])

    def median(self) -> float:
        return sorted_median(self.sorted)


def sorted_median(ordered: array[float] | list[float]) -> float:
    """Median of an already sorted, non-empty sequence."""
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def tail_size(n: int, tail: float, minimum: int = 3) -> int:
    """How many of ``n`` values form the fitted tail."""
    return min(n - 1, max(minimum, int(tail * n)))


Transform = Callable[[float], float]


def identity(x: float) -> float:
    return x


def surprise(
    ordered: array[float],
    x: float,
    tail: float,
    floor: float,
    min_scale: float = 0.0,
    transform: Transform = identity,
    bulk_floor: float = 0.0,
) -> tuple[float, float]:
    """``(-log10 P(X >= x), -log10 P(X <= x))`` against the sorted history ``ordered``.

    ``transform`` (monotone increasing) is applied before the tail is fitted, e.g. a
    logarithm for series whose bursts are multiplicative; ranks do not depend on it.
    The tail scale is floored at ``floor`` × the window's range, ``bulk_floor`` × its
    interquartile range, and ``min_scale`` in the series' own units (a step of
    ``min_scale`` at the tail's edge, transformed).
    """
    n = len(ordered)
    k = tail_size(n, tail)
    relative = floor * (transform(ordered[-1]) - transform(ordered[0]))
    if bulk_floor:
        iqr = transform(ordered[(3 * n) // 4]) - transform(ordered[n // 4])
        relative = max(relative, bulk_floor * iqr)
    at_least = n - bisect_left(ordered, x)
    if at_least >= k or x <= ordered[n - k]:
        up = math.log10((n + 1) / (at_least + 1))
    else:
        t = ordered[n - k]
        top = [transform(v) for v in ordered[n - k :]]
        mean_excess = (sum(top[1:]) - (k - 1) * top[0]) / (k - 1)
        scale_floor = max(relative, transform(t + min_scale) - top[0])
        up = _beyond(n, k, transform(x) - top[0], mean_excess, scale_floor)
        if at_least:
            up = min(up, math.log10((n + 1) / (at_least + 1)))
    at_most = bisect_right(ordered, x)
    if at_most >= k or x >= ordered[k - 1]:
        down = math.log10((n + 1) / (at_most + 1))
    else:
        t = ordered[k - 1]
        bottom = [transform(v) for v in ordered[:k]]
        mean_excess = ((k - 1) * bottom[-1] - sum(bottom[:-1])) / (k - 1)
        scale_floor = max(relative, bottom[-1] - transform(t - min_scale))
        down = _beyond(n, k, bottom[-1] - transform(x), mean_excess, scale_floor)
        if at_most:
            down = min(down, math.log10((n + 1) / (at_most + 1)))
    return up, down


def _beyond(n: int, k: int, excess: float, mean_excess: float, scale_floor: float) -> float:
    """Surprise of a value ``excess`` past the ``k``-th most extreme of ``n`` (exponential tail)."""
    scale = max(mean_excess, scale_floor)
    if scale <= 0.0:
        return MAX_SURPRISE
    return min(MAX_SURPRISE, math.log10((n + 1) / k) + excess / (scale * _LN10))


def signed_log(x: float) -> float:
    """``sign(x)·log(1 + |x|)``: monotone, about ``x`` near 0, logarithmic for bursts."""
    return math.copysign(math.log1p(abs(x)), x)
