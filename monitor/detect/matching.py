"""Which items a rule counts, and in which group (pure).

Keywords are matched against the item's prepared text (``ScoredItem.norm`` and
``tokens``, made once at ingest by ``monitor.text.prepare``): word-aware, in any script
variant, with negation (see ``monitor.text.terms``).
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.models import ScoredItem
from monitor.rules import Anomaly, Immediate, Match, Rule, Spike, Threshold, leaves
from monitor.text import prepare_cached
from monitor.text.terms import TextIndex, compile_keywords, found_in, index_of

Leaf = Threshold | Spike | Anomaly | Immediate

NO_GROUP = ""


def text_of(scored: ScoredItem) -> tuple[str, TextIndex]:
    """The item's matching form and word index (prepared now when ingest did not)."""
    if scored.tokens is None:
        view = prepare_cached(scored.item.title, scored.item.text)
        return view.norm, index_of(view.tokens)
    return scored.norm, index_of(scored.tokens)


def matches(match: Match, scored: ScoredItem) -> bool:
    if match.categories and scored.category not in match.categories:
        return False
    if match.languages and scored.lang not in match.languages:
        return False
    if not (match.keywords_any or match.keywords_all or match.keywords_none):
        return True
    norm, index = text_of(scored)

    def any_of(keywords: Iterable[str]) -> bool:
        return any(
            found_in(k, index, norm, substring=match.substring, negation=match.negation)
            for k in compile_keywords(tuple(keywords))
        )

    if match.keywords_any and not any_of(match.keywords_any):
        return False
    for entry in match.keywords_all:
        if not any_of((entry,) if isinstance(entry, str) else entry):
            return False
    return not (match.keywords_none and any_of(match.keywords_none))


def matched_terms(match: Match, scored: ScoredItem) -> list[str]:
    """The keywords of ``match`` (as written in the rule) that the item mentions."""
    norm, index = text_of(scored)
    wanted = [*match.keywords_any, *(k for e in match.keywords_all for k in ((e,) if isinstance(e, str) else e))]
    return [
        k.raw
        for k in compile_keywords(tuple(wanted))
        if found_in(k, index, norm, substring=match.substring, negation=match.negation)
    ]


def group_key(group_by: tuple[str, ...], scored: ScoredItem) -> str | None:
    """``product=X,region=Y``; None when the item lacks a field (the rule skips it)."""
    if not group_by:
        return NO_GROUP
    parts = []
    for name in group_by:
        value = field_value(name, scored)
        if not value:
            return None
        parts.append(f"{name}={value}")
    return ",".join(parts)


def field_value(name: str, scored: ScoredItem) -> str | None:
    if name == "source":
        return scored.item.source
    if name == "category":
        return scored.category
    if name == "lang":
        return scored.lang
    return scored.item.attrs.get(name)


def selects(rule: Rule, leaf: Leaf | None, scored: ScoredItem) -> bool:
    """Whether ``leaf`` (or, for None, the rule itself) counts the item: the leaf's own
    ``sources``/``match`` where it has them, else the rule's."""
    sources = (leaf.sources if leaf else ()) or rule.sources
    if sources and scored.item.source not in sources:
        return False
    return matches((leaf.match if leaf else None) or rule.match, scored)


def selected_by_any(rule: Rule, scored: ScoredItem) -> bool:
    return selects(rule, None, scored) or any(selects(rule, leaf, scored) for leaf in leaves(rule.condition))
