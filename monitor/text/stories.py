"""Near-duplicates: which items tell the same story (reposts, quotes, syndicated copies).

An item's **core** is the text it repeats: for a Weibo repost chain
(``comment//@author:text//@author2:text2``) the longest of its parts (comments are short,
the repeated text is long), for ``RT @author: text`` the quoted text; the comment, mentions,
hashtags marks, links, punctuation, spaces and emoji are dropped, and the text is already
simplified and case-folded (``monitor.text.normalise``), so a traditional-character copy has
the same core.

Two items are the same story when their cores' character trigrams overlap enough:
``similarity`` is the larger of the Jaccard index and the containment of the shorter core
in the longer (a quote with a comment, an article with a headline added). The threshold
``SAME_STORY`` was chosen by cross-validation on written examples (``bench/stories.py``,
``tests/fixtures/stories.yaml``). Short cores (under ``MIN_CORE`` characters, "质量太差了")
say too little to tell a copy from two people writing the same words: they join a story
only as an explicit repost of an identical core. Complaint records join only an identical
core (a double submission); different customers are different voices.

Finding candidates: a 64-bit SimHash of the trigrams, cut into 8 bands of 8 bits; a story
is a candidate when any band is equal (always so within a Hamming distance of 7, usually
beyond), then ``similarity`` decides.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SAME_STORY = 0.6
"""Similarity from which two cores are one story (chosen by cross-validation, see above)."""
MIN_CORE = 15
"""Cores shorter than this join a story only as an explicit repost of the identical text."""
CORE_STORED = 1000
"""Characters of a story's core kept for comparing later items."""
BANDS = 8

_REPOST = re.compile(r"//\s*@[^:：\s]{1,30}\s*[:：]")
_RT = re.compile(r"(?:^|\s)rt\s+@[\w\-]{1,30}\s*:?\s*")
_MENTION = re.compile(r"@[\w\-]{1,30}")
_NOISE = re.compile(r"转发微博|转发|轉發|repost(?:ed)?\b")
_KEEP = re.compile(
    r"[0-9a-z\u00c0-\u024f\u0400-\u04ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+"
)


@dataclass(frozen=True, slots=True)
class Core:
    """The repeated text of an item, and whether the item says it is a repost."""

    text: str
    repost: bool


def core_of(norm: str) -> Core:
    """The core of a normalised text (``TextView.norm``)."""
    repost = False
    parts = _REPOST.split(norm)
    if len(parts) > 1:  # a repost chain: comments and quoted texts; the repeated one is the longest
        repost = True
        norm = max(parts, key=lambda p: len(_letters(p)))
    hits = list(_RT.finditer(norm))
    if hits:
        hit = hits[-1]
        repost = True
        norm = norm[hit.end() :]
    norm = _NOISE.sub(" ", _MENTION.sub(" ", norm))
    return Core(_letters(norm), repost)


def _letters(text: str) -> str:
    return "".join(_KEEP.findall(text))


def shingles(core: str) -> set[str]:
    """Character trigrams (the whole core when it is shorter)."""
    if len(core) < 3:
        return {core} if core else set()
    return {core[i : i + 3] for i in range(len(core) - 2)}


def similarity(a: str, b: str) -> float:
    """max(Jaccard, containment of the shorter in the longer) of the cores' trigrams."""
    sa, sb = shingles(a[:CORE_STORED]), shingles(b[:CORE_STORED])
    if not sa or not sb:
        return 0.0
    common = len(sa & sb)
    return max(common / len(sa | sb), common / min(len(sa), len(sb)))


def simhash(core: str) -> int:
    """A 64-bit SimHash of the core's trigrams, as a signed integer (fits SQL BIGINT)."""
    weights = [0] * 64
    for gram in shingles(core[:CORE_STORED]):
        h = int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    value = sum(1 << bit for bit in range(64) if weights[bit] > 0)
    return value - (1 << 64) if value >= 1 << 63 else value


def bands(fingerprint: int) -> tuple[int, ...]:
    """The fingerprint's 8 bands of 8 bits."""
    unsigned = fingerprint & (1 << 64) - 1
    return tuple(unsigned >> (8 * i) & 0xFF for i in range(BANDS))


def same_story(new: Core, story_core: str, *, complaint: bool, threshold: float = SAME_STORY) -> bool:
    """Whether an item with core ``new`` joins the story whose core is ``story_core``."""
    if not new.text:
        return False
    exact = new.text[:CORE_STORED] == story_core[:CORE_STORED]
    if complaint:
        return exact and len(new.text) >= MIN_CORE
    if len(new.text) < MIN_CORE or len(story_core) < MIN_CORE:
        return exact and new.repost
    return similarity(new.text, story_core) >= threshold
