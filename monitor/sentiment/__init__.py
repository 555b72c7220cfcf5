"""Sentiment of Chinese text: SnowNLP's scores, computed without SnowNLP's cost.

- ``exact_sentiment(text)``: ``SnowNLP(text).sentiments``, identical, many times faster;
- ``SentimentScorer(model_path, use_emoticons).score(texts)``: what the daemon uses;
  normalises (``normalise``), leaves non-Chinese text unscored (``is_chinese``, None);
- ``ScoringPool``: the same in worker processes, off the polling thread;
- ``DEFAULT_NEGATIVE_CUT``: items scoring below it are negative (rules may override it).

See docs/sentiment.md for the figures.
"""

from monitor.sentiment.exact import exact_sentiment
from monitor.sentiment.lang import is_chinese
from monitor.sentiment.normalise import normalise
from monitor.sentiment.pool import ScoringPool
from monitor.sentiment.scorer import DEFAULT_NEGATIVE_CUT, SentimentScorer, is_negative

__all__ = [
    "DEFAULT_NEGATIVE_CUT",
    "ScoringPool",
    "SentimentScorer",
    "exact_sentiment",
    "is_chinese",
    "is_negative",
    "normalise",
]
