"""``SentimentScorer``: what the daemon calls.

Two kinds of model:

- the default, a linear model on character n-grams with emoticon and crisis-term layers
  (``linear``; the file shipped in the package, or one written by ``sentiment train``);
- ``"snownlp"``: SnowNLP's own model, scored exactly as SnowNLP scores it (``exact``), after the
  same normalisation, with emoticon codes mapped to polarity words; or a model in SnowNLP's
  format written by ``sentiment train --snownlp``.

Both leave text that is not Chinese unscored (None) and accept text that is already normalised.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from monitor.sentiment import linear
from monitor.sentiment.emoticons import codes_as_words, strip_codes
from monitor.sentiment.exact import ExactScorer
from monitor.sentiment.features import prepare as prepare_linear
from monitor.sentiment.lang import is_chinese
from monitor.sentiment.normalise import normalise

SNOWNLP = "snownlp"
"""The ``scoring.model`` value (and ``--model`` argument) that selects SnowNLP-exact scoring."""

DEFAULT_NEGATIVE_CUT = 0.46
"""Items scoring below this are negative with the default model: the cut with the best balanced
accuracy on the calibration half of the dev data (docs/sentiment.md). It is also stored in the
shipped model file; a test keeps the two equal."""

SNOWNLP_NEGATIVE_CUT = 0.43
"""The same for SnowNLP's model (``scoring.model: snownlp``)."""

DEFAULT_CACHE_SIZE = 4096


class SentimentScorer:
    """Scores texts in [0, 1] (1 = positive); None for text that is not scored.

    ``model_path``: None for the shipped default model, ``"snownlp"`` for SnowNLP-exact scores,
    or the path of a model written by ``crisismon sentiment train``. ``use_emoticons`` counts
    Weibo emoticon codes by polarity instead of ignoring them. With SnowNLP's model, repeated
    texts are served from a bounded cache (``cache_size`` entries, 0 for none); the linear
    model needs none.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        use_emoticons: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.use_emoticons = use_emoticons
        self.linear: linear.LinearModel | None = None
        self.exact: ExactScorer | None = None
        if is_snownlp(model_path):
            self.exact = ExactScorer(None)
            self.negative_cut = SNOWNLP_NEGATIVE_CUT
        elif model_path is None or linear.is_linear_model(model_path):
            self.linear = linear.load(model_path or linear.DEFAULT_MODEL)
            self.negative_cut = self.linear.cut
        else:
            self.exact = ExactScorer(model_path)
            self.negative_cut = SNOWNLP_NEGATIVE_CUT
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._cache_size = cache_size

    @property
    def kind(self) -> str:
        """``linear`` or ``snownlp``."""
        return "linear" if self.linear is not None else SNOWNLP

    def prepare(self, text: str) -> str | None:
        """The text SnowNLP's model scores, or None when ``text`` is not to be scored."""
        clean = normalise(text)
        if not is_chinese(strip_codes(clean)):
            return None
        return codes_as_words(clean) if self.use_emoticons else strip_codes(clean)

    def score(self, texts: Sequence[str]) -> list[float | None]:
        """One score per text, in order."""
        if self.linear is None:
            return [self.score_one(t) for t in texts]
        prepared = [prepare_linear(t, self.use_emoticons) for t in texts]
        present = [p for p in prepared if p is not None]
        values = iter(self.linear.probabilities(present).tolist())
        return [None if p is None else next(values) for p in prepared]

    def score_one(self, text: str) -> float | None:
        """The score of one text, or None."""
        if self.exact is None:
            return self.score([text])[0]
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


def is_snownlp(model: str | Path | None) -> bool:
    return isinstance(model, str) and model.strip().lower() == SNOWNLP


def negative_cut_for(model: str | Path | None) -> float:
    """The calibrated negative cut of a model (what ``scoring.model`` names)."""
    if model is None:
        return DEFAULT_NEGATIVE_CUT
    if is_snownlp(model) or not linear.is_linear_model(model):
        return SNOWNLP_NEGATIVE_CUT
    return linear.load(model).cut


def model_problem(model: str | Path | None) -> str | None:
    """What is wrong with a ``scoring.model`` value (a missing, corrupt or wrong-version file),
    or None when it can be used."""
    from monitor.sentiment.bayes import Bayes
    from monitor.sentiment.errors import SentimentError

    if model is None or is_snownlp(model):
        return None
    path = Path(model)
    if not path.is_file():
        return f"{path} does not exist (give a model written by 'crisismon sentiment train', or 'snownlp')"
    try:
        if linear.is_linear_model(path):
            linear.load(path)
        else:
            Bayes.load(path)
    except SentimentError as exc:
        return str(exc)
    return None


def is_negative(sentiment: float | None, cut: float = DEFAULT_NEGATIVE_CUT) -> bool:
    """Whether a scored item counts as negative; unscored items never do."""
    return sentiment is not None and sentiment < cut
