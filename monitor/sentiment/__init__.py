"""Sentiment of Chinese text.

- ``SentimentScorer(model_path, use_emoticons).score(texts)``: what the daemon uses; the
  shipped linear model by default (``linear``, ``features``, ``crisis``), SnowNLP-exact scores
  with ``"snownlp"``; normalises (``normalise``), leaves non-Chinese text unscored (None);
- ``exact_sentiment(text)``: ``SnowNLP(text).sentiments``, identical, many times faster;
- ``ScoringPool``: the same in worker processes, off the polling thread;
- ``DEFAULT_NEGATIVE_CUT``: items scoring below it are negative with the default model (rules
  may override it); ``negative_cut_for(model)`` gives any model's calibrated cut.

See docs/sentiment.md for the figures.
"""

from monitor.sentiment.exact import exact_sentiment
from monitor.sentiment.lang import is_chinese
from monitor.sentiment.normalise import normalise
from monitor.sentiment.pool import ScoringPool
from monitor.sentiment.scorer import (
    DEFAULT_NEGATIVE_CUT,
    SNOWNLP,
    SNOWNLP_NEGATIVE_CUT,
    SentimentScorer,
    is_negative,
    model_problem,
    negative_cut_for,
)

__all__ = [
    "DEFAULT_NEGATIVE_CUT",
    "SNOWNLP",
    "SNOWNLP_NEGATIVE_CUT",
    "ScoringPool",
    "SentimentScorer",
    "exact_sentiment",
    "is_chinese",
    "is_negative",
    "model_problem",
    "negative_cut_for",
    "normalise",
]
