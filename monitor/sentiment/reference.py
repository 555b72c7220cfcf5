"""The reference: SnowNLP itself. The only module of crisismon that imports snownlp.

Used by tests, the benchmark and comparisons, never by the daemon's scoring path (importing
snownlp takes seconds and hundreds of megabytes).
"""

from __future__ import annotations

from collections.abc import Sequence


def sentiments(text: str) -> float:
    """``SnowNLP(text).sentiments``; for "" (where SnowNLP raises ZeroDivisionError in its
    BM25 set-up) the classifier's value on no words, which ``sentiment.classify`` gives."""
    import snownlp

    if not text:
        return float(snownlp.sentiment.classify(text))
    return float(snownlp.SnowNLP(text).sentiments)


def classify_only(text: str) -> float:
    """``snownlp.sentiment.classify(text)``: the same number without SnowNLP's BM25 set-up."""
    import snownlp

    return float(snownlp.sentiment.classify(text))


def words(text: str) -> list[str]:
    """SnowNLP's segmentation of ``text``."""
    from snownlp import seg

    return list(seg.seg(text))


def train_words(neg: Sequence[str], pos: Sequence[str]) -> dict[str, dict[str, int]]:
    """Word counts per class of a classifier trained by SnowNLP on these texts."""
    from snownlp.sentiment import Sentiment

    s = Sentiment()
    s.train(list(neg), list(pos))
    return {k: dict(v.d) for k, v in s.classifier.d.items()}
