"""``crisismon check``'s warnings about keywords that are parts of common words.

A keyword is compared with jieba's dictionary (about 350,000 words with frequencies):

- with ``substring: true``, a Chinese keyword matches inside any text that contains it:
  inside common words (火灾 in 火灾险) and across two of them (被困 in 被+困扰,
  停电 in 不停+电). Each is shown with an example;
- matched as words, a keyword is safe from those, but misses common words that contain it
  when jieba keeps them whole and the keyword is not itself a dictionary word (then it is not
  found inside them): those are listed so the author can add them.

- in a rule that fires on a single item (an ``immediate`` condition), an English keyword with
  a trailing ``*`` matches every word that starts with it (``hospital*``: hospitality,
  ``fire*``: fireplace, firewall): the author is asked to list the word forms meant.

Warnings never stop the daemon: ``check`` prints them and still succeeds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from monitor.config.rules import Immediate, leaves
from monitor.text.lazy import once
from monitor.text.normalise import keyword_form
from monitor.text.segment import is_word, word_frequencies
from monitor.text.terms import compile_keyword

COMMON = 100
"""A dictionary word at least this frequent counts as common."""
SHOWN = 4

_HAN_ONLY = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")


@once
def _common() -> tuple[dict[str, int], dict[str, list[str]], dict[str, list[str]]]:
    """Common words, and for each character the common words starting / ending with it."""
    common = {w: f for w, f in word_frequencies().items() if f >= COMMON and _HAN_ONLY.match(w)}
    starting: dict[str, list[str]] = defaultdict(list)
    ending: dict[str, list[str]] = defaultdict(list)
    for word in common:
        starting[word[0]].append(word)
        ending[word[-1]].append(word)
    return common, starting, ending


def containing(form: str) -> list[str]:
    """Common dictionary words that contain ``form`` and are longer, most frequent first."""
    common, _, _ = _common()
    found = [w for w in common if form in w and w != form]
    return sorted(found, key=lambda w: -common[w])


def across(form: str) -> list[str]:
    """Two common words whose junction spells ``form`` ("被+困扰" for 被困), most frequent first."""
    common, starting, ending = _common()
    pairs: list[tuple[int, str]] = []
    for cut in range(1, len(form)):
        left, right = form[:cut], form[cut:]
        if left in common:
            pairs += [
                (min(common[left], common[w]), f"{left}+{w}")
                for w in starting[right[0]]
                if w.startswith(right) and w != right
            ]
        if right in common:
            pairs += [
                (min(common[w], common[right]), f"{w}+{right}")
                for w in ending[left[-1]]
                if w.endswith(left) and w != left
            ]
    return [p for _, p in sorted(pairs, key=lambda p: -p[0])]


def keyword_warning(keyword: str, *, substring: bool) -> str | None:
    """What to tell the author about ``keyword``, or None."""
    form = keyword_form(keyword)
    if not _HAN_ONLY.match(form):
        return None
    if substring:
        examples = (containing(form) + across(form))[:SHOWN]
        if not examples:
            return None
        return f"{keyword!r} is matched as a substring, so it also matches inside common words: {', '.join(examples)}"
    examples = [] if is_word(form) else containing(form)[:SHOWN]
    if not examples:
        return None
    return (
        f"{keyword!r} is part of common words that it will not match as a word: {', '.join(examples)}; "
        "add them to the keywords if they are meant"
    )


def prefix_warning(keyword: str) -> str | None:
    """What to tell the author of a rule that fires on one item about an English ``word*``."""
    compiled = compile_keyword(keyword)
    if not (compiled.latin and compiled.prefix):
        return None
    return (
        f"{keyword!r} matches every word starting with {compiled.words[-1]!r} (hospital* also matches hospitality), "
        "and this rule fires on a single item: list the word forms you mean instead"
    )


def rule_warnings(entries: list[tuple[Any, str, int]]) -> list[str]:
    """``path:line: rule ID: match: warning`` for every keyword of every rule worth a warning."""
    out: list[str] = []
    for rule, path, line in entries:
        matches = [("match", rule.match)] + [
            (f"condition match of {type(leaf).__name__.lower()}", leaf.match)
            for leaf in leaves(rule.condition)
            if leaf.match
        ]
        for where, match in matches:
            immediate = any(isinstance(leaf, Immediate) for leaf in leaves(rule.condition))
            for keyword in dict.fromkeys(match.keywords()):
                warning = keyword_warning(keyword, substring=match.substring)
                if warning:
                    out.append(f"{path}:{line}: rule {rule.id}: {where}: {warning}")
                if immediate and keyword in match.positive_keywords():
                    warning = prefix_warning(keyword)
                    if warning:
                        out.append(f"{path}:{line}: rule {rule.id}: {where}: {warning}")
    return out
