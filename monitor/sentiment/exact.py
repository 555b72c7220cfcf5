"""``exact_sentiment``: SnowNLP's ``SnowNLP(text).sentiments``, without importing snownlp.

The pipeline is SnowNLP's: segment (``segmenter``), drop stop words
(``snownlp/normal/stopwords.txt``), naive Bayes (``bayes``). The models are read from the
installed snownlp package's data files, or a trained sentiment model given by path.
"""

from __future__ import annotations

import threading
from pathlib import Path

from monitor.sentiment.bayes import Bayes
from monitor.sentiment.segmenter import Segmenter
from monitor.sentiment.snowdata import data_file, read_lines


class ExactScorer:
    """Scores raw text exactly as SnowNLP does; the segmenter is shared between instances."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        self.segmenter = shared_segmenter()
        self.stopwords = shared_stopwords()
        path = Path(model_path) if model_path else data_file("sentiment", "sentiment.marshal.3")
        self.classifier = Bayes.load(path)

    def words(self, text: str) -> list[str]:
        """The words the classifier sees: SnowNLP's ``Sentiment.handle(text)``."""
        stop = self.stopwords
        return [w for w in self.segmenter.words(text) if w not in stop]

    def sentiment(self, text: str) -> float:
        """P(positive) in [0, 1], equal to ``SnowNLP(text).sentiments``."""
        return self.classifier.positive_probability(self.words(text))


_lock = threading.RLock()  # exact_sentiment builds a scorer that takes it again
_segmenter: Segmenter | None = None
_stopwords: frozenset[str] | None = None
_default: ExactScorer | None = None


def shared_segmenter() -> Segmenter:
    """The segmenter, loaded once per process (it is the expensive part to load)."""
    global _segmenter
    with _lock:
        if _segmenter is None:
            _segmenter = Segmenter.from_snownlp()
        return _segmenter


def shared_stopwords() -> frozenset[str]:
    """SnowNLP's stop words."""
    global _stopwords
    with _lock:
        if _stopwords is None:
            _stopwords = frozenset(read_lines(data_file("normal", "stopwords.txt")))
        return _stopwords


def exact_sentiment(text: str) -> float:
    """``SnowNLP(text).sentiments`` with SnowNLP's own model (and 0.5-ish prior for "")."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:  # built once, however many threads ask at the same time
                _default = ExactScorer()
    return _default.sentiment(text)
