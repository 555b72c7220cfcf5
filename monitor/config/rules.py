"""Rule files: what to watch, when it is a crisis, which playbook to open."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from monitor.config.durations import Duration, format_duration
from monitor.config.validation import Strict, found_expected, validate
from monitor.config.yamlload import load_yaml
from monitor.detect.anomaly import AnomalyParams
from monitor.detect.severity import SeverityName
from monitor.errors import ConfigError, Problem
from monitor.text.normalise import keyword_form

Metric = Literal["count", "negative_count", "negative_share", "mean_sentiment", "stories", "negative_stories"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]


def _flat(value: Any) -> Any:
    """A list whose entries may be lists (YAML aliases of shared word lists), flattened."""
    if isinstance(value, list | tuple) and any(isinstance(v, list | tuple) for v in value):
        return [w for v in value for w in (v if isinstance(v, list | tuple) else [v])]
    return value


class Sense(Strict):
    """When some keywords of a match count: only near other words, or not near them. A list
    may hold lists (YAML aliases of shared word lists): they are flattened."""

    keywords: tuple[str, ...] = Field(default=(), description="Which of the match's keywords; empty = all of them")
    with_: tuple[str, ...] = Field(default=(), alias="with", description="Counts only with one of these nearby")
    without: tuple[str, ...] = Field(default=(), description="Does not count with one of these nearby")
    within: Literal["clause", "sentence", "text"] = Field(default="sentence", description="What nearby means")

    _flatten = field_validator("keywords", "with_", "without", mode="before")(_flat)

    @model_validator(mode="after")
    def _says_something(self) -> Sense:
        if not (self.with_ or self.without):
            raise found_expected("a sense without with: or without:", "with:, without: or both")
        return self


class Match(Strict):
    """Which items count. Keywords match words (see ``monitor.text.terms``), in any script
    variant, width or case; negated mentions ("没有人受伤") do not count."""

    categories: tuple[str, ...] = ()
    keywords_any: tuple[str, ...] = Field(default=(), description="At least one of these")
    keywords_all: tuple[str | tuple[str, ...], ...] = Field(
        default=(), description="Every entry; an entry that is a list needs any one of its keywords"
    )
    keywords_none: tuple[str, ...] = Field(default=(), description="None of these")
    substring: bool = Field(default=False, description="Match keywords as plain substrings, not words")
    negation: bool = Field(default=True, description="Ignore mentions the text negates (没有, 无人, no one ...)")
    languages: tuple[Literal["zh", "en", "other"], ...] = Field(
        default=(), description="Only items in these languages; empty = any"
    )
    senses: tuple[Sense, ...] = Field(default=(), description="When keywords count: with or without other words near")

    _flatten = field_validator("keywords_any", "keywords_none", mode="before")(_flat)

    @field_validator("senses")
    @classmethod
    def _senses_name_keywords(cls, senses: tuple[Sense, ...], info: ValidationInfo) -> tuple[Sense, ...]:
        entries = info.data.get("keywords_all", ())
        flat = [k for e in entries for k in ((e,) if isinstance(e, str) else e)]
        known = {keyword_form(k) for k in (*info.data.get("keywords_any", ()), *flat)}
        for index, sense in enumerate(senses):
            unknown = [k for k in sense.keywords if keyword_form(k) not in known]
            if unknown:
                raise found_expected(
                    f"senses {index}: keyword(s) {', '.join(map(repr, unknown))}",
                    "keywords of keywords_any or keywords_all",
                )
        return senses

    def positive_keywords(self) -> list[str]:
        """The keywords an item must mention (keywords_any and keywords_all)."""
        flat = [k for entry in self.keywords_all for k in ((entry,) if isinstance(entry, str) else entry)]
        return [*self.keywords_any, *flat]

    def keywords(self) -> list[str]:
        """Every keyword of the match (for checks and evidence)."""
        context = [k for sense in self.senses for k in (*sense.with_, *sense.without)]
        return [*self.positive_keywords(), *self.keywords_none, *context]


class Selection(Strict):
    """Optional per-condition selection: overrides the rule's ``sources`` and ``match``."""

    sources: tuple[str, ...] = Field(default=(), description="Source names for this condition only")
    match: Match | None = Field(default=None, description="Which items this condition counts")


class Threshold(Selection):
    metric: Metric
    op: Op = ">="
    value: float
    window: Duration | None = Field(default=None, description="Defaults to the rule's window")


class Spike(Selection):
    metric: Metric
    ratio: float = Field(gt=1, description="How many times the baseline rate counts as a spike")
    baseline: Duration = Field(description="Reference period just before the current window")
    window: Duration | None = None
    direction: Literal["up", "down", "both"] = "up"
    min_current: float = Field(default=1, gt=0, description="The current window needs at least this value to fire (up)")
    min_baseline: float = Field(
        default=1, gt=0, description="The baseline rate is floored at this value (0-vs-0 never fires)"
    )


class Anomaly(Selection):
    """The ``anomaly`` condition; durations become bucket counts for the detector
    (``monitor.detect.anomaly``). The defaults, at 5-minute buckets, are the detector's
    cross-validated defaults."""

    metric: Metric = "count"
    history: Duration = Field(default=timedelta(days=30), description="How much past each view of the series keeps")
    min_history: Duration = Field(default=timedelta(hours=16), description="Warm-up: no verdict before this much data")
    season: Literal["none", "hour_of_day", "hour_of_week"] = "hour_of_day"
    timezone: str = Field(default="UTC", description="Time zone of the seasons, e.g. Asia/Shanghai")
    rarity: float = Field(
        default=3.25, gt=0, description="How rare a bucket must be: rarer than 1 in 10^rarity buckets of the history"
    )
    min_spread: float | None = Field(
        default=None,
        ge=0,
        description="Floor on the tail scale, in the metric's units (default: 1 item for counts, 0 otherwise)",
    )
    direction: Literal["up", "down", "both"] = "up"
    consecutive: int = Field(default=1, ge=1, description="Anomalous buckets in a row before it holds")
    cooldown: Duration = Field(
        default=timedelta(hours=8), description="After an alert, only a much rarer bucket alerts again"
    )
    rebound: float = Field(
        default=1.5, ge=1, description="In the cool-down, an alert needs rebound x the highest surprise since"
    )
    threshold: float | None = Field(default=None, description="Replaced by rarity (it was a z-score)")
    method: str | None = Field(default=None, description="Removed: the detector has a single method")

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold_replaced(cls, value: Any) -> None:
        raise found_expected(
            f"threshold {value!r} (a z-score; the anomaly detector no longer uses one)",
            "rarity instead: how rare a bucket must be, e.g. rarity: 3.25 = rarer than 1 in 1,800 buckets "
            "(docs/rules.md, anomaly)",
        )

    @field_validator("method", mode="before")
    @classmethod
    def _method_removed(cls, value: Any) -> None:
        raise found_expected(
            f"method {value!r} (median_mad and ewma were replaced by one detector)",
            "no method: delete this line (docs/detection.md explains the detector)",
        )

    @model_validator(mode="after")
    def _history_fits(self) -> Anomaly:
        if self.min_history > self.history:
            raise found_expected(
                f"min_history {format_duration(self.min_history)} > history {format_duration(self.history)}",
                "min_history no longer than history",
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise found_expected(repr(self.timezone), "an IANA time zone such as Asia/Shanghai or UTC") from None
        return self

    def params(self, bucket: timedelta) -> AnomalyParams:
        """The detector's parameters for buckets of ``bucket`` (ValueError if they do not fit)."""
        history = int(self.history / bucket)
        scale = self.min_spread
        if scale is None:
            scale = 1.0 if is_count_metric(self.metric) else 0.0
        return AnomalyParams(
            history=history,
            warmup=max(10, min(int(self.min_history / bucket), history)),
            min_scale=scale,
            season=self.season,
            threshold=self.rarity,
            direction=self.direction,
            consecutive=self.consecutive,
            cooldown=int(self.cooldown / bucket),
            rebound=self.rebound,
        )


def is_count_metric(metric: str) -> bool:
    """Counts scale with the number of items; shares and mean sentiment do not."""
    return metric in ("count", "negative_count", "stories", "negative_stories")


class Immediate(Selection):
    """Holds as soon as ``min_items`` selected items were published within its window: for
    what must be handled at once whatever the volume (harm to people, fire, a regulator's
    recall). No baseline, so no warm-up; the rule must not wait (``for`` 0)."""

    min_items: int = Field(default=1, ge=1, description="Matching items needed (1: a single report)")
    window: Duration | None = Field(default=None, description="How long a report keeps it holding; the rule's window")


class ImmediateCondition(Strict):
    immediate: Immediate


class AnomalyCondition(Strict):
    anomaly: Anomaly


class ThresholdCondition(Strict):
    threshold: Threshold


class SpikeCondition(Strict):
    spike: Spike


class AllCondition(Strict):
    all: tuple[Condition, ...] = Field(min_length=1)


class AnyCondition(Strict):
    any: tuple[Condition, ...] = Field(min_length=1)


_CONDITION_KINDS = {
    "threshold": "Threshold",
    "spike": "Spike",
    "anomaly": "Anomaly",
    "immediate": "Immediate",
    "all": "All",
    "any": "Any",
}


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = [k for k in value if k in _CONDITION_KINDS]
        return _CONDITION_KINDS[keys[0]] if len(keys) == 1 else None
    for name, tag in _CONDITION_KINDS.items():
        if hasattr(value, name):
            return tag
    return None


Condition = Annotated[
    Annotated[ThresholdCondition, Tag("Threshold")]
    | Annotated[SpikeCondition, Tag("Spike")]
    | Annotated[AnomalyCondition, Tag("Anomaly")]
    | Annotated[ImmediateCondition, Tag("Immediate")]
    | Annotated[AllCondition, Tag("All")]
    | Annotated[AnyCondition, Tag("Any")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_kind",
        custom_error_message="exactly one of threshold, spike, anomaly, immediate, all, any",
    ),
]

AllCondition.model_rebuild()
AnyCondition.model_rebuild()


class SeverityStep(Strict):
    level: SeverityName
    metric: Metric
    op: Op = ">="
    value: float


class SeveritySpec(Strict):
    default: SeverityName = "medium"
    escalate: tuple[SeverityStep, ...] = Field(
        default=(), description="Raise the severity when the metric over the rule's window crosses a value"
    )


class Rule(Strict):
    id: RuleId
    description: str = Field(min_length=1)
    playbook: str
    sources: tuple[str, ...] = Field(default=(), description="Source names; empty = every source")
    match: Match = Match()
    group_by: tuple[str, ...] = ()
    group_missing: Literal["skip", "keep"] = Field(
        default="skip",
        description="An item without a group_by field: skip it, or keep it in a group without that field",
    )
    window: Duration = timedelta(hours=1)
    bucket: Duration = timedelta(minutes=5)
    negative_below: float | None = Field(default=None, gt=0, lt=1)
    condition: Condition
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    severity: SeveritySpec = SeveritySpec()
    realert: Duration = Field(
        default=timedelta(minutes=30),
        description="After an incident is resolved, firing again within this long is noted on it, not re-alerted",
    )
    related: tuple[str, ...] = Field(
        default=(), description="Rule ids whose active incident for the same group this rule's signals join"
    )

    @model_validator(mode="after")
    def _windows_fit(self) -> Rule:
        if self.for_ > timedelta(0) and any(isinstance(leaf, Immediate) for leaf in _walk(self.condition)):
            raise found_expected(
                f"for: {format_duration(self.for_)} with an immediate condition",
                "no for: (an immediate condition fires at once)",
            )
        if self.bucket <= timedelta(0):
            raise found_expected("bucket 0s", "a bucket longer than 0s")
        for window in _windows(self.condition, self.window):
            if window < self.bucket:
                raise found_expected(
                    f"a window of {format_duration(window)} with a bucket of {format_duration(self.bucket)}",
                    "every window at least one bucket long",
                )
        for leaf in _walk(self.condition):
            if isinstance(leaf, Anomaly):
                _check_anomaly(leaf, self.bucket)
        return self

    def all_sources(self) -> tuple[str, ...]:
        """Every source any condition reads; empty when the rule reads every source."""
        if not self.sources and any(not leaf.sources for leaf in _walk(self.condition)):
            return ()
        return tuple(dict.fromkeys([*self.sources, *(n for leaf in _walk(self.condition) for n in leaf.sources)]))

    def lookback(self) -> timedelta:
        """How far back evaluation needs items."""
        return max(_spans(self.condition, self.window))


def _check_anomaly(leaf: Anomaly, bucket: timedelta) -> None:
    try:
        leaf.params(bucket)
    except ValueError as exc:
        found = f"anomaly with history {format_duration(leaf.history)} in buckets of {format_duration(bucket)}"
        raise found_expected(found, f"settings the detector accepts ({exc})") from None


def _walk(condition: Any) -> Iterable[Threshold | Spike | Anomaly | Immediate]:
    if isinstance(condition, ThresholdCondition):
        yield condition.threshold
    elif isinstance(condition, ImmediateCondition):
        yield condition.immediate
    elif isinstance(condition, SpikeCondition):
        yield condition.spike
    elif isinstance(condition, AnomalyCondition):
        yield condition.anomaly
    else:
        children: tuple[Any, ...] = getattr(condition, "all", None) or getattr(condition, "any", None) or ()
        for child in children:
            yield from _walk(child)


def leaves(condition: Any) -> list[Threshold | Spike | Anomaly | Immediate]:
    return list(_walk(condition))


def _windows(condition: Any, default: timedelta) -> list[timedelta]:
    return [leaf.window or default for leaf in _walk(condition) if not isinstance(leaf, Anomaly)]


def _spans(condition: Any, default: timedelta) -> list[timedelta]:
    spans = [default]
    for leaf in _walk(condition):
        if isinstance(leaf, Anomaly):
            spans.append(leaf.history + timedelta(hours=1))
            continue
        window = leaf.window or default
        spans.append(window + leaf.baseline if isinstance(leaf, Spike) else window)
    return spans


class RuleFile(Strict):
    rules: tuple[Rule, ...]


class RuleSet:
    """Every rule of a folder, with where each was defined (for cross-file errors)."""

    def __init__(self, rules: list[tuple[Rule, str, int]]) -> None:
        self.entries = rules

    @property
    def rules(self) -> list[Rule]:
        return [rule for rule, _, _ in self.entries]

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def load_rule_file(path: Path) -> tuple[list[tuple[Rule, str, int]], list[Problem]]:
    try:
        located = load_yaml(path)
    except ConfigError as exc:
        return [], list(exc.problems)
    parsed, problems = validate(RuleFile, located, located.data)
    if parsed is None:
        return [], problems
    if not parsed.rules:
        return [], [Problem(str(path), located.line_of(("rules",)), "rules", "an empty list", "at least one rule")]
    return [(rule, str(path), located.line_of(("rules", i))) for i, rule in enumerate(parsed.rules)], []


def load_rules(
    directory: Path, *, playbooks: Iterable[str], sources: Iterable[str] | None, categories: Iterable[str]
) -> tuple[RuleSet, list[Problem]]:
    """Load every rule file in ``directory`` and run the cross-file checks.

    ``sources`` None skips the source-name check (no config given).
    """
    if not directory.is_dir():
        return RuleSet([]), [Problem(str(directory), 1, "rules_dir", "no such directory", "a folder of rule files")]
    entries: list[tuple[Rule, str, int]] = []
    problems: list[Problem] = []
    for path in sorted(p for p in directory.iterdir() if re.search(r"\.ya?ml$", p.name)):
        found, errors = load_rule_file(path)
        entries.extend(found)
        problems.extend(errors)
    problems.extend(cross_check(entries, set(playbooks), None if sources is None else set(sources), set(categories)))
    return RuleSet(entries), problems


def cross_check(
    entries: list[tuple[Rule, str, int]], playbooks: set[str], sources: set[str] | None, categories: set[str]
) -> list[Problem]:
    problems: list[Problem] = []
    first_seen: dict[str, tuple[str, int]] = {}
    for rule, path, line in entries:
        if rule.id in first_seen:
            where = "{}:{}".format(*first_seen[rule.id])
            problems.append(Problem(path, line, "id", repr(rule.id), f"a unique rule id (also defined at {where})"))
        first_seen.setdefault(rule.id, (path, line))
        if rule.playbook not in playbooks:
            known = ", ".join(sorted(playbooks)) or "none loaded"
            problems.append(Problem(path, line, "playbook", repr(rule.playbook), f"a playbook id ({known})"))
        for name in rule.all_sources():
            if sources is not None and name not in sources:
                known = ", ".join(sorted(sources)) or "none configured"
                problems.append(Problem(path, line, "sources", repr(name), f"a configured source ({known})"))
        for other in rule.related:
            if other not in first_seen and other not in {r.id for r, _, _ in entries}:
                problems.append(Problem(path, line, "related", repr(other), "the id of another rule"))
        leaf_categories = [c for leaf in _walk(rule.condition) if leaf.match for c in leaf.match.categories]
        for cat in [*rule.match.categories, *leaf_categories]:
            if cat not in categories:
                problems.append(
                    Problem(
                        path,
                        line,
                        "match.categories",
                        repr(cat),
                        f"a category ({', '.join(sorted(categories))})",
                    )
                )
    return problems
