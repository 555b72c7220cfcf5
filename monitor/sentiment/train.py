"""Training SnowNLP's classifier on labelled data (e.g. a company's complaint archive).

The words are those the scorer sees (``SentimentScorer.prepare`` then SnowNLP's
segmentation and stop words), counted as SnowNLP's ``Bayes.train`` counts them, negative
documents first. With ``extend`` the counts are added to those of SnowNLP's own model, so
vocabulary that the domain data lacks keeps its general-purpose weight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from monitor.sentiment.bayes import NEGATIVE, POSITIVE, Bayes, ClassCounts
from monitor.sentiment.dataset import Labelled
from monitor.sentiment.errors import BadInput


def documents(rows: Sequence[Labelled], words: Callable[[str], list[str]]) -> list[tuple[list[str], str]]:
    """(words, class) per row: negative rows first, as SnowNLP's ``Sentiment.train`` does."""
    neg = [(words(r.text), NEGATIVE) for r in rows if r.label == 0]
    pos = [(words(r.text), POSITIVE) for r in rows if r.label == 1]
    if not neg or not pos:
        raise BadInput(f"training needs both labels: found {len(neg)} negative and {len(pos)} positive rows")
    return neg + pos


def train(docs: Iterable[tuple[Sequence[str], str]], extend: Bayes | None = None) -> Bayes:
    """A classifier trained on ``docs``, on top of ``extend``'s counts if given."""
    trained = Bayes.train(docs)
    if extend is None:
        return trained
    return Bayes({k: _merge(extend.classes[k], trained.classes[k]) for k in (NEGATIVE, POSITIVE)})


def _merge(a: ClassCounts, b: ClassCounts) -> ClassCounts:
    counts = dict(a.counts)
    total = a.total
    for word, n in b.counts.items():
        if word in counts:  # b's add-one start is already in a's count
            counts[word] += n - 1
            total += n - 1
        else:
            counts[word] = n
            total += n
    return ClassCounts(counts, total)


def save(model: Bayes, path: str | Path) -> None:
    """Writes the model where the config's ``model_path`` can point at it."""
    try:
        model.save(Path(path))
    except OSError as exc:
        raise BadInput(f"cannot write the model to {path}: {exc.strerror}") from exc
