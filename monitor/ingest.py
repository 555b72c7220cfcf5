"""From a poll's result to stored, scored items: dedup, score, classify, record health."""

from __future__ import annotations

import logging
from datetime import datetime

from monitor.classify import KeywordClassifier
from monitor.metrics import Metrics
from monitor.models import FetchResult, Item, ScoredItem
from monitor.protocols import Scorer
from monitor.store import SqlStore

log = logging.getLogger(__name__)


class Ingestor:
    def __init__(self, store: SqlStore, scorer: Scorer, classifier: KeywordClassifier, metrics: Metrics) -> None:
        self.store = store
        self.scorer = scorer
        self.classifier = classifier
        self.metrics = metrics

    def ingest(self, source: str, result: FetchResult, now: datetime) -> int:
        """Store the new items of one poll; return how many were new."""
        for error in result.errors:
            log.warning("source %s: %s", source, error)
        self.metrics.inc("source_errors_total", len(result.errors), source=source)
        failed = bool(result.errors) and not result.items and not result.not_modified
        fresh = self._fresh(source, result.items)
        scored = self.score(fresh)
        added = self.store.add_items(scored, now)
        self.metrics.inc("items_total", added, source=source)
        self.store.record_fetch(source, now, error=result.errors[0] if failed else None, items=added)
        if added:
            log.info("source %s: %d new item(s)", source, added)
        return added

    def _fresh(self, source: str, items: list[Item]) -> list[Item]:
        unique = list({item.id: item for item in items}.values())
        known = self.store.known_ids(source, [i.id for i in unique])
        return [i for i in unique if i.id not in known]

    def score(self, items: list[Item]) -> list[ScoredItem]:
        return score_items(items, self.scorer, self.classifier)


def score_items(items: list[Item], scorer: Scorer, classifier: KeywordClassifier) -> list[ScoredItem]:
    """Sentiment for each item's text; the source's category, else the keyword classifier's."""
    sentiments = scorer.score([i.text for i in items]) if items else []
    return [
        ScoredItem(
            item=item,
            sentiment=sentiment,
            category=item.category or classifier.classify(f"{item.title}\n{item.text}"),
            lang="zh" if sentiment is not None else "und",
        )
        for item, sentiment in zip(items, sentiments, strict=True)
    ]
