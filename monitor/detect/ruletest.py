"""`crisismon test`: rule unit tests in YAML, in the spirit of `promtool test rules`.

A test file gives input series (compact notation) or items with text, evaluation times, and
the signals and incidents expected at those times. The real rules, playbooks, evaluator and
incident service run against an in-memory store with a fake clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from pydantic import Field

from monitor.config.durations import Duration
from monitor.config.loading import Definitions
from monitor.config.validation import Strict, found_expected, validate
from monitor.config.yamlload import load_yaml
from monitor.detect.evaluator import Evaluator, SortedItems
from monitor.errors import ConfigError
from monitor.incidents.service import IncidentService
from monitor.models import Item, ScoredItem, Signal
from monitor.notify.render import TextRenderer
from monitor.protocols import Scorer
from monitor.runtime.ingest import Ingestor, assign_stories, score_items
from monitor.runtime.metrics import Metrics
from monitor.store import open_store
from monitor.text.classify import KeywordClassifier

_TERM = re.compile(r"^(?P<a>-?\d+(?:\.\d+)?)(?:(?P<sign>[+-])(?P<b>\d+(?:\.\d+)?))?(?:x(?P<n>\d+))?$")


def expand_series(text: str) -> list[float | None]:
    """Expand promtool's notation: ``a+bxn`` is a, a+b, ... a+n·b (n+1 values); ``axn`` is a
    repeated n+1 times; ``_`` is a missing value; ``_xn`` is n+1 missing values."""
    values: list[float | None] = []
    for term in text.split():
        if term == "_" or term.startswith("_x"):
            values.extend([None] * (int(term[2:]) + 1 if term.startswith("_x") else 1))
            continue
        match = _TERM.match(term)
        if not match:
            raise ValueError(f"a series term like 3, 3x12, 1+2x5, 10-1x9 or _ (got {term!r})")
        a = float(match["a"])
        b = float(match["b"] or 0) * (-1 if match["sign"] == "-" else 1)
        n = int(match["n"]) if match["n"] is not None else 0
        values.extend(a + b * i for i in range(n + 1))
    return values


class SeriesInput(Strict):
    source: str
    values: str = Field(description="Items per evaluation step, e.g. '0x12 5+5x6'")
    category: str | None = None
    attrs: dict[str, str] = Field(default_factory=dict)
    sentiment: float | None = Field(default=0.1, ge=0, le=1, description="Sentiment of every item of the series")
    text: str = "series item"


class ItemInput(Strict):
    source: str
    at: Duration = Field(description="Offset from the test's start")
    text: str
    title: str = ""
    category: str | None = None
    attrs: dict[str, str] = Field(default_factory=dict)
    sentiment: float | None = Field(default=None, ge=0, le=1, description="Omit to score the text with the real scorer")
    count: int = Field(default=1, ge=1)


class ExpectedSignal(Strict):
    at: Duration
    rule: str
    group: str = ""
    state: str = Field(pattern="^(inactive|pending|firing|resolved)$")
    severity: str | None = None


class ExpectedIncidents(Strict):
    at: Duration
    rule: str | None = None
    count: int = Field(ge=0)
    playbook: str | None = None
    severity: str | None = None


class RuleTest(Strict):
    name: str
    start: datetime = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    interval: Duration = timedelta(minutes=5)
    input_series: tuple[SeriesInput, ...] = ()
    input_items: tuple[ItemInput, ...] = ()
    signals: tuple[ExpectedSignal, ...] = ()
    incidents: tuple[ExpectedIncidents, ...] = ()


class TestFile(Strict):
    tests: tuple[RuleTest, ...] = Field(min_length=1)

    def model_post_init(self, _: Any) -> None:
        for test in self.tests:
            for series in test.input_series:
                try:
                    expand_series(series.values)
                except ValueError as exc:
                    raise found_expected(repr(series.values), str(exc)) from None


@dataclass
class Outcome:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


def load_test_file(path: Path) -> TestFile:
    located = load_yaml(path)
    parsed, problems = validate(TestFile, located, located.data)
    if parsed is None:
        raise ConfigError(problems)
    return parsed


class RuleTester:
    def __init__(self, definitions: Definitions, scorer: Scorer, default_cut: float) -> None:
        self.definitions = definitions
        self.scorer = scorer
        self.default_cut = default_cut

    def run(self, file: str, test: RuleTest) -> Outcome:
        outcome = Outcome(file, test.name)
        store = open_store(":memory:")
        try:
            self._run(store, test, outcome)
        finally:
            store.close()
        return outcome

    def _run(self, store: Any, test: RuleTest, outcome: Outcome) -> None:
        ingestor = Ingestor(store, self.scorer, KeywordClassifier.default(), Metrics())
        with store.transaction():  # stories as ingest makes them, in order of publication
            scored = assign_stories(store, sorted(_scored(test, ingestor), key=lambda s: s.item.published_at))
            store.add_items(scored, test.start)
        evaluator = Evaluator(store, self.default_cut, history_start=test.start, items=SortedItems(scored))
        incidents = IncidentService(store, self.definitions.playbooks, {"console": TextRenderer()})
        rules = {r.id: r for r in self.definitions.rules.rules}
        named = {e.rule for e in test.signals} | {e.rule for e in test.incidents if e.rule}
        unknown = named - set(rules)
        if unknown:
            outcome.failures.append(f"unknown rule(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(rules))}")
            return
        if all(e.rule for e in test.incidents):  # evaluate only the rules the test is about
            rules = {rule_id: rule for rule_id, rule in rules.items() if rule_id in named}
        checks = sorted({e.at for e in test.signals} | {e.at for e in test.incidents})
        end = max(checks, default=timedelta(0))
        step = timedelta(0)
        while step <= end:
            now = test.start + step
            signals = evaluator.evaluate(list(rules.values()), now)
            for signal in signals:
                incidents.handle(signal, rules[signal.rule_id], now)
            self._check_signals(test, step, signals, outcome)
            self._check_incidents(test, step, store, outcome)
            step += test.interval

    def _check_signals(self, test: RuleTest, step: timedelta, signals: Sequence[Signal], outcome: Outcome) -> None:
        for expected in (e for e in test.signals if e.at == step):
            got = next((s for s in signals if s.rule_id == expected.rule and s.group == expected.group), None)
            state = got.state.value if got else "inactive"
            severity = got.severity if got else None
            if state != expected.state or (expected.severity and severity != expected.severity):
                want = expected.state + (f"/{expected.severity}" if expected.severity else "")
                have = state + (f"/{severity}" if expected.severity else "")
                evidence = "; ".join(e.describe() for e in got.evidence) if got else "no signal"
                outcome.failures.append(
                    f"at {_fmt(step)}: {expected.rule} [{expected.group or '-'}]\n"
                    f"    - expected: {want}\n    + got:      {have}  ({evidence})"
                )

    def _check_incidents(self, test: RuleTest, step: timedelta, store: Any, outcome: Outcome) -> None:
        for expected in (e for e in test.incidents if e.at == step):
            found = [i for i in store.incidents() if expected.rule is None or i.rule_id == expected.rule]
            problems = []
            if len(found) != expected.count:
                problems.append(f"count {expected.count} != {len(found)}")
            if expected.playbook and any(i.playbook != expected.playbook for i in found):
                problems.append(f"playbook {expected.playbook} != {sorted({i.playbook for i in found})}")
            if expected.severity and any(i.severity != expected.severity for i in found):
                problems.append(f"severity {expected.severity} != {sorted({i.severity for i in found})}")
            if problems:
                outcome.failures.append(
                    f"at {_fmt(step)}: incidents{' of ' + expected.rule if expected.rule else ''}: "
                    + "; ".join(f"expected {p}" for p in problems)
                )


def _scored(test: RuleTest, ingestor: Ingestor) -> list[ScoredItem]:
    """The test's inputs as stored items: fixed sentiments as given, the rest scored for real."""
    scored: list[ScoredItem] = []
    for index, series in enumerate(test.input_series):
        for step, value in enumerate(expand_series(series.values)):
            if value:
                item = Item(
                    source=series.source,
                    id=f"s{index}-{step}",
                    text=series.text,
                    kind="count",
                    published_at=test.start + step * test.interval - timedelta(seconds=1),
                    category=series.category,
                    count=int(value),
                    attrs=series.attrs,
                )
                scored.append(ScoredItem(item, series.sentiment, series.category))
    to_score: list[Item] = []
    for index, spec in enumerate(test.input_items):
        item = Item(
            source=spec.source,
            id=f"i{index}",
            text=spec.text,
            title=spec.title,
            published_at=test.start + spec.at - timedelta(seconds=1),
            category=spec.category,
            attrs=spec.attrs,
            count=spec.count,
        )
        if spec.sentiment is None:
            to_score.append(item)
        else:
            scored += score_items([item], ingestor.scorer, ingestor.classifier, ingestor.catalogue, [spec.sentiment])
    return scored + ingestor.score(to_score)


def _fmt(step: timedelta) -> str:
    from monitor.config.durations import format_duration

    return format_duration(step)


def junit_xml(outcomes: Sequence[Outcome]) -> str:
    failures = sum(1 for o in outcomes if not o.passed)
    cases = []
    for o in outcomes:
        body = ""
        if not o.passed:
            text = "\n".join(o.failures)
            body = f"<failure message={quoteattr(o.failures[0].splitlines()[0])}>{_xml_text(text)}</failure>"
        cases.append(
            f'<testcase classname={quoteattr(o.file)} name={quoteattr(o.name)} time="{o.seconds:.3f}">{body}</testcase>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name="crisismon rules" tests="{len(outcomes)}" failures="{failures}">'
        + "".join(cases)
        + "</testsuite>\n"
    )


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class LazyScorer:
    """Builds the real scorer only when a test has text without a given sentiment."""

    def __init__(self, factory: Callable[[], Scorer]) -> None:
        self.factory = factory
        self._scorer: Scorer | None = None

    def score(self, texts: Sequence[str]) -> list[float | None]:
        if not texts:
            return []
        if self._scorer is None:
            self._scorer = self.factory()
        return self._scorer.score(texts)


def discover(paths: Sequence[Path], rules_dir: Path) -> list[Path]:
    """Test files named on the command line (files or folders), else ``rules_dir/tests``."""
    roots = list(paths) or [rules_dir / "tests"]
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found.extend(sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            found.append(root)
    return found
