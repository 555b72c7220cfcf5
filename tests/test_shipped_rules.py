"""Every shipped rule is tested, with a near-miss; every category feeds a rule."""

from __future__ import annotations

import yaml

from monitor.config.playbooks import load_playbooks
from monitor.config.rules import leaves, load_rules
from monitor.text.classify import KeywordClassifier

from .conftest import ROOT


def shipped() -> list[str]:
    playbooks, _ = load_playbooks(ROOT / "playbooks")
    rules, problems = load_rules(
        ROOT / "rules", playbooks=playbooks, sources=None, categories=KeywordClassifier.default().keys()
    )
    assert problems == []
    return [r.id for r in rules.rules]


def expectations() -> list[dict[str, str]]:
    found = []
    for path in sorted((ROOT / "rules" / "tests").glob("*.yaml")):
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            found += test.get("signals", [])
    return found


def test_every_shipped_rule_has_a_firing_test_and_a_near_miss() -> None:
    signals = expectations()
    for rule in shipped():
        states = {s["state"] for s in signals if s["rule"] == rule}
        assert "firing" in states, f"{rule}: no rule test where it fires"
        assert "inactive" in states, f"{rule}: no near-miss rule test where it must not fire"


def test_every_category_feeds_a_shipped_rule() -> None:
    playbooks, _ = load_playbooks(ROOT / "playbooks")
    rules, _ = load_rules(
        ROOT / "rules", playbooks=playbooks, sources=None, categories=KeywordClassifier.default().keys()
    )
    fed = {c for r in rules.rules for c in r.match.categories}
    fed |= {c for r in rules.rules for leaf in leaves(r.condition) if leaf.match for c in leaf.match.categories}
    assert set(KeywordClassifier.default().keys()) <= fed
