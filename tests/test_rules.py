from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.config.rules import load_rules
from monitor.text.classify import KeywordClassifier

from .conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"


def test_every_shipped_rule_file_is_valid(playbooks: dict[str, object]) -> None:
    rules, problems = load_rules(
        ROOT / "rules", playbooks=playbooks, sources=None, categories=KeywordClassifier.default().keys()
    )
    assert problems == []
    assert len(rules.rules) >= 5
    assert {r.playbook for r in rules.rules} <= set(playbooks)


def test_field_errors_name_file_line_field_found_and_expected(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "bad_rules" / "broken.yaml", tmp_path / "broken.yaml")
    _, problems = load_rules(tmp_path, playbooks=["product_quality"], sources=None, categories=["product_quality"])
    text = [str(p).replace(str(tmp_path) + "/", "") for p in problems]
    expected = (FIXTURES / "bad_rules" / "expected.txt").read_text(encoding="utf-8").splitlines()
    for line in expected[:3]:
        assert line in text


def test_cross_file_errors_come_together_with_schema_errors(tmp_path: Path) -> None:
    # a file whose rules all validate, with cross-file problems
    (tmp_path / "a.yaml").write_text(
        "rules:\n  - id: dup\n    description: d\n    playbook: product_quality\n"
        "    condition: {threshold: {metric: count, value: 1}}\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - id: dup\n    description: d\n    playbook: nope\n    sources: [ghost]\n"
        "    match: {categories: [bogus]}\n    condition: {threshold: {metric: count, value: 1}}\n",
        encoding="utf-8",
    )
    _, problems = load_rules(tmp_path, playbooks=["product_quality"], sources=["news"], categories=["product_quality"])
    fields = sorted((Path(p.path).name, p.line, p.field) for p in problems)
    assert fields == [
        ("b.yaml", 2, "id"),
        ("b.yaml", 2, "match.categories"),
        ("b.yaml", 2, "playbook"),
        ("b.yaml", 2, "sources"),
    ]
    dup = next(p for p in problems if p.field == "id")
    assert "also defined at" in dup.expected and "a.yaml:2" in dup.expected


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "bad_rules" / "syntax.yaml", tmp_path / "syntax.yaml")
    _, problems = load_rules(tmp_path, playbooks=[], sources=None, categories=[])
    assert [(p.line, p.field) for p in problems] == [(4, "yaml")]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("{thresh: 1}", "exactly one of threshold, spike, anomaly, immediate, all, any"),
        (
            "{threshold: {metric: count, value: 1}, spike: {}}",
            "exactly one of threshold, spike, anomaly, immediate, all, any",
        ),
    ],
)
def test_condition_must_be_exactly_one_kind(tmp_path: Path, condition: str, expected: str) -> None:
    (tmp_path / "r.yaml").write_text(
        f"rules:\n  - id: r\n    description: d\n    playbook: p\n    condition: {condition}\n",
        encoding="utf-8",
    )
    _, problems = load_rules(tmp_path, playbooks=["p"], sources=None, categories=[])
    assert [(p.line, p.field, p.expected) for p in problems] == [(5, "rules.0.condition", expected)]


def test_window_shorter_than_bucket_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - id: r\n    description: d\n    playbook: p\n    bucket: 10m\n"
        "    condition: {threshold: {metric: count, value: 1, window: 5m}}\n",
        encoding="utf-8",
    )
    _, problems = load_rules(tmp_path, playbooks=["p"], sources=None, categories=[])
    assert len(problems) == 1 and "at least one bucket" in problems[0].expected


ANOMALY_RULE = "rules:\n  - id: r\n    description: d\n    playbook: p\n    condition:\n      anomaly:\n{fields}"


def write_anomaly_rule(tmp_path: Path, fields: str) -> None:
    body = "".join(f"        {line}\n" for line in fields.splitlines())
    (tmp_path / "r.yaml").write_text(ANOMALY_RULE.format(fields=body), encoding="utf-8")


def test_old_anomaly_fields_that_still_mean_the_same_keep_working(tmp_path: Path) -> None:
    write_anomaly_rule(
        tmp_path,
        "metric: negative_count\nhistory: 14d\nmin_history: 1d\nseason: hour_of_day\n"
        "timezone: Asia/Shanghai\nmin_spread: 2\ndirection: up\nconsecutive: 2\ncooldown: 12h",
    )
    rules, problems = load_rules(tmp_path, playbooks=["p"], sources=None, categories=[])
    assert problems == []
    (rule,) = rules.rules
    params = rule.condition.anomaly.params(rule.bucket)  # type: ignore[union-attr]
    assert (params.history, params.warmup, params.min_scale, params.consecutive, params.cooldown) == (
        4032,
        288,
        2.0,
        2,
        144,
    )


@pytest.mark.parametrize(
    ("fields", "line", "field", "found", "expected"),
    [
        ("metric: count\nthreshold: 5", 8, "threshold", "threshold 5 (a z-score", "rarity instead"),
        ("method: ewma", 7, "method", "method 'ewma'", "delete this line"),
        ("history: 3h\nmin_history: 1h", 2, "rules.0", "anomaly with history 3h in buckets of 5m", "history 36"),
    ],
)
def test_replaced_anomaly_fields_fail_check_with_what_replaced_them(
    tmp_path: Path, fields: str, line: int, field: str, found: str, expected: str
) -> None:
    write_anomaly_rule(tmp_path, fields)
    _, problems = load_rules(tmp_path, playbooks=["p"], sources=None, categories=[])
    assert len(problems) == 1, problems
    (problem,) = problems
    assert (problem.line, problem.field.split(".")[-1] if field != "rules.0" else problem.field) == (line, field)
    assert found in problem.found and expected in problem.expected
    assert str(problem).startswith(f"{tmp_path / 'r.yaml'}:{line}: ")


def test_a_bad_sense_names_file_line_field_found_and_expected(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - id: r\n    description: d\n    playbook: p\n    match:\n      keywords_any: [起火]\n"
        "      senses:\n        - keywords: [爆炸]\n          without: [销量]\n"
        "        - {keywords: [起火], whith: [x]}\n"
        "    condition: {immediate: {}}\n",
        encoding="utf-8",
    )
    _, problems = load_rules(tmp_path, playbooks=["p"], sources=None, categories=[])
    assert [(p.line, p.field) for p in problems] == [(10, "rules.0.match.senses.1.whith")]
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - id: r\n    description: d\n    playbook: p\n    match:\n      keywords_any: [起火]\n"
        "      senses:\n        - keywords: [爆炸]\n          without: [销量]\n    condition: {immediate: {}}\n",
        encoding="utf-8",
    )
    _, problems = load_rules(tmp_path, playbooks=["p"], sources=None, categories=[])
    assert [(p.line, p.field, p.found, p.expected) for p in problems] == [
        (7, "rules.0.match.senses", "senses 0: keyword(s) '爆炸'", "keywords of keywords_any or keywords_all")
    ]
