"""From a poll's result to stored, scored items: dedup, prepare, score, classify, tag, group.

Every item goes through ``prepare`` once (``monitor.text``): normalised text, language and
words, kept with the item so that matching never redoes it. Chinese text is scored by the
Chinese model, English text by VADER (``monitor.text.english.LanguageScorer``); other
languages count as volume. The product catalogue tags items that name a product.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from monitor.config.catalogue import Catalogue
from monitor.detect.hits import HitBook
from monitor.models import (
    FetchResult,
    Item,
    ScoredItem,
)
from monitor.protocols import Scorer
from monitor.runtime.metrics import Metrics
from monitor.text import TextView, prepare
from monitor.text.classify import KeywordClassifier
from monitor.text.english import EnglishScorer, LanguageScorer
from monitor.text.stories import CORE_STORED, bands, core_of, same_story, simhash

log = logging.getLogger(__name__)


class IngestStore(Protocol):
    """What ingestion writes: items, stories, fetch records."""

    def add_items(self, scored: Sequence[ScoredItem], fetched_at: datetime) -> int: ...

    def join_story(self, story_id: int, at: datetime) -> None: ...

    def known_ids(self, source: str, ids: Iterable[str]) -> set[str]: ...

    def new_story(self, fingerprint: int, bands: Sequence[int], core: str, at: datetime) -> int: ...

    def record_fetch(self, name: str, now: datetime, *, error: str | None, items: int) -> None: ...

    def story_candidates(self, bands: Sequence[int], since: datetime, limit: int = 200) -> list[tuple[int, str]]: ...

    def transaction(self) -> AbstractContextManager[None]: ...


def language_scorer(scorer: Scorer, cut: float | None = None) -> LanguageScorer:
    """``scorer`` (for Chinese) with VADER for English; ``cut``: the default negative cut."""
    if isinstance(scorer, LanguageScorer):
        return scorer
    if cut is None:
        from monitor.sentiment import DEFAULT_NEGATIVE_CUT

        cut = DEFAULT_NEGATIVE_CUT
    return LanguageScorer(scorer, EnglishScorer(cut))


class Ingestor:
    def __init__(
        self,
        store: IngestStore,
        scorer: Scorer,
        classifier: KeywordClassifier,
        metrics: Metrics,
        *,
        catalogue: Catalogue | None = None,
        negative_cut: float | None = None,
    ) -> None:
        self.store = store
        self.scorer = language_scorer(scorer, negative_cut)
        self.classifier = classifier
        self.metrics = metrics
        self.catalogue = catalogue or Catalogue()
        self.hits: HitBook | None = None  # the daemon's: each rule's hits recorded with the items

    def ingest(self, source: str, result: FetchResult, now: datetime) -> int:
        """Store the new items of one poll; return how many were new."""
        for error in result.errors:
            log.warning("source %s: %s", source, error)
        self.metrics.inc("source_errors_total", len(result.errors), source=source)
        failed = bool(result.errors) and not result.items and not result.not_modified
        fresh = self._fresh(source, result.items)
        scored = self.score(sorted(fresh, key=lambda i: i.published_at))
        with self.store.transaction():
            scored = assign_stories(self.store, scored)
            added = self.store.add_items(scored, now)
            if self.hits is not None:
                self.hits.record(scored)
        self.metrics.inc("items_total", added, source=source)
        self.store.record_fetch(source, now, error=result.errors[0] if failed else None, items=added)
        if added:
            log.info("source %s: %d new item(s)", source, added)
        return added

    def _fresh(self, source: str, items: list[Item]) -> list[Item]:
        unique = list({item.id: item for item in items}.values())
        known = self.store.known_ids(source, [i.id for i in unique])
        return [i for i in unique if i.id not in known]

    def score(self, items: Sequence[Item], fixed: Sequence[float | None] | None = None) -> list[ScoredItem]:
        return score_items(items, self.scorer, self.classifier, self.catalogue, fixed)

    def replay(self, items: Sequence[tuple[Item, float | None]], now: datetime) -> list[ScoredItem]:
        """Ingest recorded items the way polls would have, in order of publication (backtest,
        rule tests): prepared, scored (unless a sentiment is given), classified, tagged and
        grouped into stories, and stored. Items already stored are skipped."""
        ordered = sorted(items, key=lambda pair: pair[0].published_at)
        unique = list({(i.source, i.id): (i, s) for i, s in ordered}.values())
        scored = self.score([i for i, _ in unique], [s for _, s in unique])
        with self.store.transaction():
            scored = assign_stories(self.store, scored)
            self.store.add_items(scored, now)
            if self.hits is not None:
                self.hits.record(scored)
        return scored


def score_items(
    items: Sequence[Item],
    scorer: Scorer,
    classifier: KeywordClassifier,
    catalogue: Catalogue | None = None,
    fixed: Sequence[float | None] | None = None,
) -> list[ScoredItem]:
    """Prepare, score, classify and tag each item. ``fixed`` gives sentiments to use instead
    of scoring (None in it: score that item)."""
    views = [safe_prepare(i) for i in items]
    given = list(fixed) if fixed is not None else [None] * len(items)
    todo = [i for i, value in enumerate(given) if value is None]
    sentiments: list[float | None] = list(given)
    if todo:
        computed = language_scorer(scorer).score_views([views[i] for i in todo])
        for i, value in zip(todo, computed, strict=True):
            sentiments[i] = value
    catalogue = catalogue or Catalogue()
    return [
        ScoredItem(
            item=tag_product(item, view, catalogue),
            sentiment=sentiment,
            category=item.category or classifier.classify_tokens(view.tokens),
            lang=view.lang,
            norm=view.norm,
            tokens=view.tokens,
        )
        for item, view, sentiment in zip(items, views, sentiments, strict=True)
    ]


def safe_prepare(item: Item) -> TextView:
    """``prepare`` that never loses an item: a text that breaks it counts as volume."""
    try:
        return prepare(item.title, item.text)
    except Exception:
        log.exception("could not prepare the text of %s/%s; counting it as volume", item.source, item.id)
        return TextView(lang="other", norm="", tokens="", scoring="")


def tag_product(item: Item, view: TextView, catalogue: Catalogue) -> Item:
    """The item with ``attrs["product"]`` from the catalogue: the canonical name of the
    product it names (its own attribute when it is an alias, else the text's first mention)."""
    given = item.attrs.get("product")
    product = catalogue.canonical(given) if given else catalogue.find(view.norm)
    if not product or product == given:
        return item
    return replace(item, attrs={**item.attrs, "product": product})


STORY_HORIZON = timedelta(days=7)
"""An item joins a story whose latest item is at most this much older."""


def assign_stories(store: IngestStore, scored: Sequence[ScoredItem]) -> list[ScoredItem]:
    """Each item (not a count record) joined to the story it repeats, or starting its own.

    In the order given (the order of arrival), so that a later copy joins the first. Call it
    inside the transaction that stores the items."""
    out = []
    for s in scored:
        if s.item.kind == "count" or s.tokens is None:
            out.append(s)
            continue
        out.append(replace(s, story=_story_of(store, s)))
    return out


def _story_of(store: IngestStore, scored: ScoredItem) -> int | None:
    core = core_of(scored.norm)
    if not core.text:
        return None
    fingerprint = simhash(core.text)
    keys = bands(fingerprint)
    at = scored.item.published_at
    complaint = scored.item.kind == "complaint"
    for story_id, story_core in store.story_candidates(keys, at - STORY_HORIZON):
        if same_story(core, story_core, complaint=complaint):
            store.join_story(story_id, at)
            return story_id
    return store.new_story(fingerprint, keys, core.text[:CORE_STORED], at)
