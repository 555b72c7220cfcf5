"""``SentimentScorer``: what the daemon calls. Normalises, leaves non-Chinese text unscored,
handles emoticon codes, then scores exactly as SnowNLP would score the cleaned text."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from monitor.sentiment.emoticons import codes_as_words, strip_codes
from monitor.sentiment.exact import ExactScorer
from monitor.sentiment.lang import is_chinese
from monitor.sentiment.normalise import normalise

DEFAULT_NEGATIVE_CUT = 0.43
"""Items scoring below this are negative: the cut with the best balanced accuracy on half
of the dev data, confirmed on the other half (docs/sentiment.md). A model trained with
``sentiment train`` needs its own cut (rules can set one)."""

DEFAULT_CACHE_SIZE = 4096


class SentimentScorer:
    """Scores texts in [0, 1] (1 = positive); None for text that is not scored.

    ``model_path`` is a sentiment model written by ``crisismon sentiment train`` (SnowNLP's
    own when None). ``use_emoticons`` maps Weibo emoticon codes to their polarity instead
    of dropping them. Repeated texts are served from a bounded cache (``cache_size``
    entries, 0 for none).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        use_emoticons: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.exact = ExactScorer(model_path)
        self.use_emoticons = use_emoticons
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._cache_size = cache_size

    def prepare(self, text: str) -> str | None:
        """The text the model scores, or None when ``text`` is not to be scored."""
        clean = normalise(text)
        if not is_chinese(strip_codes(clean)):
            return None
        return codes_as_words(clean) if self.use_emoticons else strip_codes(clean)

    def score(self, texts: Sequence[str]) -> list[float | None]:
        """One score per text, in order."""
        return [self.score_one(t) for t in texts]

    def score_one(self, text: str) -> float | None:
        """The score of one text, or None."""
        prepared = self.prepare(text)
        if prepared is None:
            return None
        cached = self._cache.get(prepared)
        if cached is not None:
            self._cache.move_to_end(prepared)
            return cached
        value = self.exact.sentiment(prepared)
        if self._cache_size > 0:
            self._cache[prepared] = value
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return value


def is_negative(sentiment: float | None, cut: float = DEFAULT_NEGATIVE_CUT) -> bool:
    """Whether a scored item counts as negative; unscored items never do."""
    return sentiment is not None and sentiment < cut
