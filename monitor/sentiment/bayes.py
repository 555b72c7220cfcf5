"""SnowNLP's naive Bayes sentiment classifier (``snownlp/classification/bayes.py``).

Same model file format (gzip-compressed marshal of ``{"total": float, "d": {class:
{"d": {word: count}, "total": float, "none": 1}}}``), same add-one counts, and the same
floating-point operations in the same order when classifying, so the probabilities match
SnowNLP's to the last bit. Per-word logarithms are computed once, at load.
"""

from __future__ import annotations

import gzip
import marshal
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.sentiment.errors import ModelNotFound
from monitor.sentiment.snowdata import load_marshal

POSITIVE = "pos"
NEGATIVE = "neg"


@dataclass(frozen=True)
class ClassCounts:
    """Add-one word counts of one class, as SnowNLP's ``AddOneProb`` keeps them."""

    counts: Mapping[str, int]
    total: float


@dataclass(frozen=True)
class _LogClass:
    prior: float  # log(class total) - log(total of all classes)
    log_freq: Mapping[str, float]
    log_unseen: float


class Bayes:
    """Classifies a list of words as positive or negative."""

    def __init__(self, classes: Mapping[str, ClassCounts]) -> None:
        if set(classes) != {POSITIVE, NEGATIVE}:
            raise ModelNotFound(f"a sentiment model needs classes pos and neg, found {sorted(classes)}")
        self.classes = dict(classes)
        total = sum(c.total for c in classes.values())
        self._log = [(name, _log_class(c, total)) for name, c in classes.items()]

    @classmethod
    def load(cls, path: Path) -> Bayes:
        """Reads a SnowNLP sentiment model file (e.g. ``sentiment.marshal.3``)."""
        data = load_marshal(path)
        try:
            classes = {k: ClassCounts(v["d"], v["total"]) for k, v in data["d"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelNotFound(f"{path} is not a SnowNLP sentiment model") from exc
        return cls(classes)

    @classmethod
    def train(cls, docs: Iterable[tuple[Sequence[str], str]]) -> Bayes:
        """Counts words per class as ``Bayes.train`` does (classes in order of appearance)."""
        counts: dict[str, dict[str, int]] = {}
        totals: dict[str, float] = {}
        for words, label in docs:
            d = counts.setdefault(label, {})
            for word in words:
                totals[label] = totals.get(label, 0.0) + 1
                if word not in d:
                    d[word] = 1
                    totals[label] += 1
                d[word] += 1
        return cls({k: ClassCounts(v, totals.get(k, 0.0)) for k, v in counts.items()})

    def save(self, path: Path) -> None:
        """Writes the model in SnowNLP's format (SnowNLP's ``load(name)`` reads ``name + ".3"``)."""
        d: dict[str, Any] = {k: {"d": dict(c.counts), "total": c.total, "none": 1} for k, c in self.classes.items()}
        total = sum(c.total for c in self.classes.values())
        path.write_bytes(gzip.compress(marshal.dumps({"total": total, "d": d})))

    def positive_probability(self, words: Sequence[str]) -> float:
        """SnowNLP's ``Sentiment.classify``: P(positive) given the words."""
        scores = []
        for name, c in self._log:
            s = c.prior
            get = c.log_freq.get
            unseen = c.log_unseen
            for word in words:
                s += get(word, unseen)
            scores.append((name, s))
        winner, prob = _winner(scores)
        return prob if winner == POSITIVE else 1 - prob


def _log_class(c: ClassCounts, total: float) -> _LogClass:
    t = c.total
    log_freq = {word: math.log(float(n) / t) for word, n in c.counts.items()}
    return _LogClass(math.log(t) - math.log(total), log_freq, math.log(1.0 / t))


def _winner(scores: list[tuple[str, float]]) -> tuple[str, float]:
    """The most probable class and its probability, computed as SnowNLP does (overflow = 0)."""
    winner, prob = "", 0.0
    for name, s in scores:
        try:
            now = 0.0
            for _, other in scores:
                now += math.exp(other - s)
            now = 1 / now
        except OverflowError:
            now = 0.0
        if now > prob:
            winner, prob = name, now
    return winner, prob
