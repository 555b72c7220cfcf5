"""Which items a rule counts, and in which group (pure)."""

from __future__ import annotations

from monitor.models import ScoredItem
from monitor.rules import Anomaly, Match, Rule, Spike, Threshold, leaves

Leaf = Threshold | Spike | Anomaly

NO_GROUP = ""


def matches(match: Match, scored: ScoredItem) -> bool:
    if match.categories and scored.category not in match.categories:
        return False
    text = f"{scored.item.title}\n{scored.item.text}"
    if match.keywords_any and not any(k in text for k in match.keywords_any):
        return False
    if match.keywords_all and not all(k in text for k in match.keywords_all):
        return False
    return not any(k in text for k in match.keywords_none)


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
