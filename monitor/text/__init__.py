"""Text prepared once, at ingest: normalised, language detected, segmented into words.

- ``prepare(title, text)`` -> ``TextView``: what matching, classification, dedup and
  scoring read (the item keeps its original text for display);
- ``monitor.text.terms``: word-aware keyword matching with negation;
- ``monitor.text.english``: English sentiment (VADER) and ``LanguageScorer``, which sends
  Chinese text to the Chinese scorer, English text to VADER, and leaves the rest unscored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from monitor.text.lang import LANGS, Lang, detect
from monitor.text.normalise import for_matching, for_scoring
from monitor.text.segment import tokens as _tokens

__all__ = ["LANGS", "Lang", "TextView", "prepare", "prepare_cached"]


@dataclass(frozen=True, slots=True)
class TextView:
    """An item's text as the pipeline reads it.

    ``norm``: title and text for matching (simplified, half-width, case-folded, no links);
    ``tokens``: its words, space-separated, with "|" between clauses, "." after a sentence and
    "?" after a question (``monitor.text.segment``); ``scoring``: the text the
    sentiment model reads; ``lang``: zh, en or other.
    """

    lang: Lang
    norm: str
    tokens: str
    scoring: str


def prepare(title: str, text: str) -> TextView:
    """Normalise, detect the language and segment, once. Never raises."""
    norm = for_matching(f"{title}\n{text}" if title and title not in text else text or title)
    scoring = for_scoring(title, text)
    return TextView(lang=detect(scoring), norm=norm, tokens=" ".join(_tokens(norm)), scoring=scoring)


@functools.lru_cache(maxsize=4096)
def prepare_cached(title: str, text: str) -> TextView:
    """``prepare`` for items that reach matching unprepared (rule tests, old rows)."""
    return prepare(title, text)
