"""What an alert shows beside its conditions: the matched stories and what is spreading.

Pure functions of the items a rule counts in its window (and, for term lift, the items of
its sources in a baseline period before the window):

- ``top_stories``: each story once, most negative first, with how many copies the window
  holds and through which sources; unscored items after scored ones; never empty while
  the rule counts items;
- ``summarise``: items and stories, a breakdown per source (and platform, where a feed
  gives one), the terms rising most against the baseline (lift), the authors with the
  largest reach (where a feed gives authors and followers), and how many items were in
  other languages (counted as volume, not scored).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.detect.hits import Hit
from monitor.detect.window import Observation
from monitor.models import ScoredItem, TopItem

TOP_STORIES = 5
TOP_TERMS = 5
TOP_SOURCES = 6
TOP_AUTHORS = 3
AUTHOR_ATTRS = ("author", "user", "screen_name", "nickname")
REACH_ATTRS = ("followers", "reach", "fans", "followers_count")
PLATFORM_ATTRS = ("platform", "site")

_TERM = re.compile(r"^(?:[\u3400-\u9fff]{2,}|[a-z][a-z'\-]{3,})$")
STOP_TERMS = frozenset(
    [
        "我们",
        "你们",
        "他们",
        "自己",
        "什么",
        "怎么",
        "这个",
        "那个",
        "这样",
        "一个",
        "没有",
        "就是",
        "还是",
        "但是",
        "因为",
        "所以",
        "如果",
        "已经",
        "可以",
        "现在",
        "今天",
        "昨天",
        "真的",
        "还有",
        "一下",
        "时候",
        "大家",
        "知道",
        "觉得",
        "不是",
        "这种",
        "这么",
        "那么",
        "然后",
        "而且",
        "the",
        "and",
        "that",
        "this",
        "with",
        "have",
        "from",
        "were",
        "been",
        "they",
        "their",
        "what",
        "when",
        "your",
        "just",
        "about",
        "would",
        "there",
        "which",
        "will",
        "into",
        "only",
        "also",
        "than",
        "them",
        "then",
        "some",
        "more",
        "very",
        "after",
    ]
)


@dataclass(frozen=True, slots=True)
class Summary:
    """What is spreading, for the alert. ``sources``: (source, items); ``terms``: (term,
    lift, items mentioning it); ``authors``: (author, reach or None, items)."""

    items: int = 0
    stories: int = 0
    sources: tuple[tuple[str, int], ...] = ()
    terms: tuple[tuple[str, float, int], ...] = ()
    authors: tuple[tuple[str, int | None, int], ...] = ()
    other_languages: int = 0
    unscored: int = 0

    def lines(self) -> list[str]:
        """Plain-text lines (console, logs, timeline)."""
        out = [f"{self.items} item(s) in {self.stories} story(ies)"]
        if self.sources:
            out.append("by source: " + ", ".join(f"{s} {n}" for s, n in self.sources))
        if self.terms:
            out.append("rising terms: " + ", ".join(f"{t} ×{lift:.1f} ({n})" for t, lift, n in self.terms))
        if self.authors:
            out.append("top authors: " + ", ".join(author_text(a, r, n) for a, r, n in self.authors))
        if self.other_languages:
            out.append(f"{self.other_languages} item(s) in other languages: counted as volume, not scored")
        return out


def author_text(author: str, reach: int | None, items: int) -> str:
    shown = f"{author} ({reach:,} followers)" if reach is not None else author
    return shown + (f" ×{items}" if items > 1 else "")


def story_key(scored: ScoredItem) -> tuple[str, object]:
    return ("story", scored.story) if scored.story is not None else ("item", (scored.item.source, scored.item.id))


def top_stories(items: Sequence[ScoredItem], since: datetime, limit: int = TOP_STORIES) -> tuple[TopItem, ...]:
    """Each story of the window once: most negative first (unscored last), then most copied."""
    by_key = {(s.item.source, s.item.id): s for s in items}
    hits = [
        Hit(s.item.source, s.item.id, "", 0, Observation(s.item.published_at, s.item.count, s.sentiment, s.story))
        for s in items
    ]
    return tuple(top_item(by_key[lead_hit(story)], story) for story in top_hits(hits, since, limit))


def top_hits(hits: Sequence[Hit], since: datetime, limit: int = TOP_STORIES) -> list[list[Hit]]:
    """The hits of the stories the evidence shows (those published after ``since``), each
    story's hits together: most negative first (unscored last), then most copied, then latest."""
    stories: dict[tuple[str, object], list[Hit]] = defaultdict(list)
    for hit in hits:
        if hit.obs.at > since:
            story = hit.obs.story
            stories[("story", story) if story is not None else ("item", (hit.source, hit.item_id))].append(hit)

    def order(story: list[Hit]) -> tuple[bool, float, int, float]:
        scores = [h.obs.sentiment for h in story if h.obs.sentiment is not None]
        first = min(h.obs.at for h in story)
        return (not scores, min(scores) if scores else 0.0, -len(story), -first.timestamp())

    return sorted(stories.values(), key=order)[:limit]


def lead_hit(story: Sequence[Hit]) -> tuple[str, str]:
    """The (source, id) of the story's first item: the one its evidence line shows."""
    lead = min(story, key=lambda h: (h.obs.at, h.source, h.item_id))
    return (lead.source, lead.item_id)


def top_item(lead: ScoredItem, story: Sequence[Hit]) -> TopItem:
    """The evidence line of a story: its first item, with what all of its hits add up to."""
    scores = [h.obs.sentiment for h in story if h.obs.sentiment is not None]
    author, reach = author_of(lead)
    return TopItem(
        source=lead.item.source,
        title=lead.item.title,
        text=lead.item.text,
        published_at=lead.item.published_at,
        url=lead.item.url,
        sentiment=min(scores) if scores else None,
        copies=sum(h.obs.count for h in story),
        sources=tuple(sorted({h.source for h in story})),
        author=author,
        reach=reach,
        lang=lead.lang,
    )


def author_of(scored: ScoredItem) -> tuple[str | None, int | None]:
    attrs = scored.item.attrs
    author = next((attrs[k] for k in AUTHOR_ATTRS if attrs.get(k)), None)
    reach = next((_number(attrs[k]) for k in REACH_ATTRS if attrs.get(k)), None)
    return author, reach


def _number(value: str) -> int | None:
    text = str(value).strip().lower().replace(",", "")
    scale = 1
    for suffix, factor in (("万", 10_000), ("w", 10_000), ("k", 1_000), ("m", 1_000_000), ("亿", 100_000_000)):
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    try:
        return int(float(text) * scale)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class TermBaseline:
    """What ``rising_terms`` needs of a baseline: its stories, and in how many of them each term is."""

    stories: int
    counts: Counter[str]


def term_baseline(items: Sequence[ScoredItem]) -> TermBaseline:
    docs = _story_terms(items)
    return TermBaseline(len(docs), Counter(t for terms in docs for t in terms))


def words_baseline(rows: Iterable[tuple[str, str, int | None, str | None]]) -> TermBaseline:
    """``term_baseline`` from only each item's source, id, story and words (``tokens``), the items
    of a story one after the other (as the store reads them: ``item_words_between``), without
    loading whole items or holding more than one story's words at a time. Each distinct word is
    checked once (``_TERM``, ``STOP_TERMS``), after counting, not once per occurrence."""
    counts: Counter[str] = Counter()
    stories = 0
    key: tuple[str, object] | None = None
    words: set[str] = set()
    for source, item_id, story, tokens in rows:
        here = ("story", story) if story is not None else ("item", (source, item_id))
        if here != key:
            counts.update(words)
            words = set()
            key = here
            stories += 1
        if tokens:
            words.update(tokens.split(" "))
    counts.update(words)
    return TermBaseline(stories, Counter({t: n for t, n in counts.items() if _TERM.match(t) and t not in STOP_TERMS}))


def summarise(current: Sequence[ScoredItem], baseline: Sequence[ScoredItem] | TermBaseline) -> Summary:
    """The breakdown of the window's items, with term lift against ``baseline``."""
    if not current:
        return Summary()
    return Summary(
        items=sum(s.item.count for s in current),
        stories=len({story_key(s) for s in current}),
        sources=_sources(current),
        terms=rising_terms(current, baseline),
        authors=_authors(current),
        other_languages=sum(s.item.count for s in current if s.lang == "other"),
        unscored=sum(s.item.count for s in current if s.sentiment is None),
    )


def _sources(items: Sequence[ScoredItem]) -> tuple[tuple[str, int], ...]:
    counts: Counter[str] = Counter()
    for s in items:
        platform = next((s.item.attrs[k] for k in PLATFORM_ATTRS if s.item.attrs.get(k)), None)
        counts[f"{s.item.source}/{platform}" if platform else s.item.source] += s.item.count
    return tuple(counts.most_common(TOP_SOURCES))


def _authors(items: Sequence[ScoredItem]) -> tuple[tuple[str, int | None, int], ...]:
    reach: dict[str, int | None] = {}
    posts: Counter[str] = Counter()
    for s in items:
        author, followers = author_of(s)
        if author:
            posts[author] += 1
            if followers is not None:
                reach[author] = max(followers, reach.get(author) or 0)
            else:
                reach.setdefault(author, None)
    ranked = sorted(posts, key=lambda a: (-(reach[a] or 0), -posts[a], a))
    return tuple((a, reach[a], posts[a]) for a in ranked[:TOP_AUTHORS])


def terms_of(scored: ScoredItem) -> set[str]:
    """The distinct words of an item that can be terms (Chinese words of 2+ characters,
    English words of 4+ letters, no stop words)."""
    tokens = scored.tokens.split(" ") if scored.tokens else []
    return {t for t in tokens if _TERM.match(t) and t not in STOP_TERMS}


def rising_terms(
    current: Sequence[ScoredItem], baseline: Sequence[ScoredItem] | TermBaseline
) -> tuple[tuple[str, float, int], ...]:
    """Terms whose share of stories grew most against the baseline (add-one smoothed lift),
    each story counted once; a term needs 2 stories in the window (1 when the window has
    fewer than 4)."""
    now_docs = _story_terms(current)
    base = baseline if isinstance(baseline, TermBaseline) else term_baseline(baseline)
    now_counts: Counter[str] = Counter(t for terms in now_docs for t in terms)
    base_counts = base.counts
    floor = 2 if len(now_docs) >= 4 else 1
    n_now, n_base = len(now_docs), base.stories
    scored = []
    for term, count in now_counts.items():
        if count < floor:
            continue
        lift = ((count + 0.5) / (n_now + 1)) / ((base_counts[term] + 0.5) / (n_base + 1))
        scored.append((term, lift, count))
    scored.sort(key=lambda x: (-x[1], -x[2], x[0]))
    return tuple((t, round(lift, 1), n) for t, lift, n in scored[:TOP_TERMS] if lift > 1 and math.isfinite(lift))


def _story_terms(items: Sequence[ScoredItem]) -> list[set[str]]:
    by_story: dict[tuple[str, object], set[str]] = {}
    for s in items:
        by_story.setdefault(story_key(s), set()).update(terms_of(s))
    return list(by_story.values())
