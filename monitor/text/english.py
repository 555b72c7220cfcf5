"""Sentiment of English text (VADER), and the scorer that routes each text by language.

VADER (``vaderSentiment``, MIT) is a lexicon and rule-based model built for social-media
text: it reads capitals, "!!!", emoticons, negation and boosters. Its ``compound`` score in
[-1, 1] is mapped onto crisismon's [0, 1] scale so that VADER's own cut for negative text
(compound <= -0.05) falls on the daemon's negative cut: a rule's ``negative_below`` means
the same for English and Chinese items.

VADER's lexicon knows "injured" and "dead" but not "exploded", "burned" or "recall";
``CRISIS_LEXICON`` adds the words of accidents and recalls, with valences on VADER's scale
(-4 .. 4), so that "the heater exploded and burned my son" is not scored neutral.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.protocols import Scorer
from monitor.text import TextView, prepare
from monitor.text.lazy import once

VADER_NEGATIVE = -0.05

CRISIS_LEXICON: dict[str, float] = {
    "burn": -1.8,
    "burned": -2.2,
    "burnt": -2.2,
    "burns": -1.8,
    "scald": -2.0,
    "scalded": -2.3,
    "explode": -2.5,
    "exploded": -2.8,
    "explodes": -2.5,
    "explosion": -2.8,
    "blast": -1.5,
    "smoke": -1.2,
    "smoking": -1.2,
    "smoked": -1.0,
    "sparks": -1.3,
    "sparking": -1.5,
    "melted": -1.8,
    "melting": -1.5,
    "overheat": -1.8,
    "overheated": -2.0,
    "overheating": -2.0,
    "electrocuted": -3.0,
    "electrocution": -3.0,
    "shocked": -1.5,
    "recall": -1.8,
    "recalled": -1.8,
    "recalls": -1.8,
    "defect": -1.8,
    "defective": -2.0,
    "faulty": -1.9,
    "hazard": -2.0,
    "hazardous": -2.2,
    "toxic": -2.2,
    "poisoned": -2.6,
    "hospital": -1.2,
    "hospitalized": -2.4,
    "hospitalised": -2.4,
    "ambulance": -1.8,
    "er": -0.5,
    "flood": -2.0,
    "flooded": -2.2,
    "flooding": -2.0,
    "earthquake": -2.4,
    "collapsed": -2.4,
    "trapped": -2.4,
    "evacuated": -1.8,
    "evacuate": -1.6,
    "blaze": -2.0,
    "caught": -0.3,
    "sued": -2.0,
    "sue": -1.6,
    "suing": -1.8,
    "fined": -1.8,
    "outbreak": -2.2,
    "stampede": -2.6,
    "leak": -1.3,
    "leaking": -1.4,
    "lawsuit": -1.8,
}


@once
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(CRISIS_LEXICON)
    return analyzer


def to_unit(compound: float, cut: float) -> float:
    """VADER's compound in [-1, 1] to [0, 1], with VADER's negative cut landing on ``cut``."""
    compound = max(-1.0, min(1.0, compound))
    if compound < VADER_NEGATIVE:
        return cut * (compound + 1) / (VADER_NEGATIVE + 1)
    return cut + (1 - cut) * (compound - VADER_NEGATIVE) / (1 - VADER_NEGATIVE)


class EnglishScorer:
    """Sentiment in [0, 1] of English texts (1 = positive)."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def score(self, texts: Sequence[str]) -> list[float | None]:
        return [self.score_one(t) for t in texts]

    def score_one(self, text: str) -> float | None:
        if not text.strip():
            return None
        try:
            compound = float(_analyzer().polarity_scores(text[:5000])["compound"])
        except Exception:  # VADER on an odd string: count the item as volume
            return None
        return to_unit(compound, self.cut)


class LanguageScorer:
    """A ``Scorer`` that routes each text by language: Chinese to ``chinese`` (SnowNLP's
    model, unchanged), English to ``english`` (VADER), anything else unscored (None)."""

    def __init__(self, chinese: Scorer, english: Scorer) -> None:
        self.chinese = chinese
        self.english = english

    def score(self, texts: Sequence[str]) -> list[float | None]:
        return self.score_views([prepare("", t) for t in texts])

    def score_views(self, views: Sequence[TextView]) -> list[float | None]:
        """One score per prepared text, in order; each model is called once per batch."""
        out: list[float | None] = [None] * len(views)
        for lang, scorer in (("zh", self.chinese), ("en", self.english)):
            picked = [i for i, v in enumerate(views) if v.lang == lang and v.scoring]
            if not picked:
                continue
            for i, value in zip(picked, scorer.score([views[i].scoring for i in picked]), strict=True):
                out[i] = value
        return out

    def close(self) -> None:
        closer = getattr(self.chinese, "close", None)
        if callable(closer):
            closer()
