"""Which items a rule counts, and in which group (pure).

Keywords are matched against the item's prepared text (``ScoredItem.norm`` and
``tokens``, made once at ingest by ``monitor.text.prepare``): word-aware, in any script
variant, with negation (see ``monitor.text.terms``).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.rules import Anomaly, Immediate, Match, Rule, Spike, Threshold, leaves
from monitor.models import ScoredItem
from monitor.text import prepare_cached
from monitor.text.terms import Keyword, Sense, TextIndex, compile_keywords, compile_sense, found_in, index_of

Leaf = Threshold | Spike | Anomaly | Immediate

NO_GROUP = ""


def text_of(scored: ScoredItem) -> tuple[str, TextIndex]:
    """The item's matching form and word index (prepared now when ingest did not)."""
    if scored.tokens is None:
        view = prepare_cached(scored.item.title, scored.item.text)
        return view.norm, index_of(view.tokens)
    return scored.norm, index_of(scored.tokens)


@dataclass(frozen=True, slots=True)
class _Compiled:
    any: tuple[Keyword, ...]
    all: tuple[tuple[Keyword, ...], ...]
    none: tuple[Keyword, ...]
    senses: tuple[Sense, ...] = ()


_COMPILED: dict[int, tuple[Match, _Compiled]] = {}


def _compiled(match: Match) -> _Compiled:
    """The match's keywords, compiled once per Match object (rules are loaded once)."""
    hit = _COMPILED.get(id(match))
    if hit is not None and hit[0] is match:
        return hit[1]
    compiled = _Compiled(
        compile_keywords(match.keywords_any),
        tuple(compile_keywords((e,) if isinstance(e, str) else e) for e in match.keywords_all),
        compile_keywords(match.keywords_none),
        tuple(compile_sense(s.keywords, s.with_, s.without, s.within) for s in match.senses),
    )
    if len(_COMPILED) > 10_000:
        _COMPILED.clear()
    _COMPILED[id(match)] = (match, compiled)
    return compiled


def matches(match: Match, scored: ScoredItem) -> bool:
    if match.categories and scored.category not in match.categories:
        return False
    if match.languages and scored.lang not in match.languages:
        return False
    if not (match.keywords_any or match.keywords_all or match.keywords_none):
        return True
    norm, index = text_of(scored)
    substring, negation = match.substring, match.negation
    compiled = _compiled(match)

    def any_of(keywords: tuple[Keyword, ...], senses: tuple[Sense, ...] = ()) -> bool:
        return any(found_in(k, index, norm, substring=substring, negation=negation, senses=senses) for k in keywords)

    if compiled.any and not any_of(compiled.any, compiled.senses):
        return False
    if not all(any_of(entry, compiled.senses) for entry in compiled.all):
        return False
    return not (compiled.none and any_of(compiled.none))


def matched_terms(match: Match, scored: ScoredItem) -> list[str]:
    """The keywords of ``match`` (as written in the rule) that the item mentions."""
    norm, index = text_of(scored)
    senses = _compiled(match).senses
    return [
        k.raw
        for k in compile_keywords(tuple(match.positive_keywords()))
        if found_in(k, index, norm, substring=match.substring, negation=match.negation, senses=senses)
    ]


def group_key(group_by: tuple[str, ...], scored: ScoredItem, *, keep_missing: bool = False) -> str | None:
    """``product=X,region=Y``; None when the item lacks a field (the rule skips it), unless
    ``keep_missing``: then the field is left out ("" when the item has none of them)."""
    if not group_by:
        return NO_GROUP
    parts = []
    for name in group_by:
        value = field_value(name, scored)
        if not value:
            if keep_missing:
                continue
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
