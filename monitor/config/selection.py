"""Which rule, playbook and rule-test files `check`, `test` and `backtest` read.

Like ``promtool check rules FILE...``: the command line may name files or folders; each
YAML file is recognised by its top-level keys (``rules:`` a rule file, ``tests:`` a rule
test file, ``phases:`` a playbook) and a folder's ``tests/`` holds rule tests. What is not
named comes from the config (``rules_dir``, ``playbooks_dir``), whose defaults are a
``rules/`` and ``playbooks/`` in the current folder when there are, else the shipped copies
(``monitor.config.paths``). :meth:`Selection.header` is the line that says what was read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from monitor.config.loading import Definitions, companion_problems
from monitor.config.playbooks import Playbook, load_playbook
from monitor.config.rules import RuleSet, cross_check, load_rule_file
from monitor.config.settings import AppConfig
from monitor.errors import ConfigError, Problem
from monitor.text.classify import KeywordClassifier

YAML = re.compile(r"\.ya?ml$")


@dataclass
class Selection:
    rules: list[Path] = field(default_factory=list)
    playbooks: list[Path] = field(default_factory=list)
    tests: list[Path] = field(default_factory=list)
    rules_from: list[str] = field(default_factory=list)  # folders or files, as said in the header
    playbooks_from: list[str] = field(default_factory=list)
    tests_from: list[str] = field(default_factory=list)

    def header(self, *, with_tests: bool = False) -> str:
        parts = [f"rules from {', '.join(self.rules_from)}", f"playbooks from {', '.join(self.playbooks_from)}"]
        if with_tests:
            parts.append(f"tests from {', '.join(self.tests_from) or 'nowhere'}")
        return "reading " + "; ".join(parts)


def kind_of(path: Path) -> str | None:
    """``rules``, ``tests`` or ``playbook`` by the file's top-level keys; None when it is none of them."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    if "rules" in data:
        return "rules"
    if "tests" in data:
        return "tests"
    if "phases" in data or "title_en" in data:
        return "playbook"
    return None


def _yaml_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and YAML.search(p.name))


def select(paths: Sequence[Path], config: AppConfig) -> tuple[Selection, list[Problem]]:
    """Sort ``paths`` into rules, playbooks and tests; fill what is missing from ``config``."""
    chosen = Selection()
    problems: list[Problem] = []
    test_folders: list[Path] = []
    for path in paths:
        if path.is_dir():
            _add_folder(path, chosen, test_folders)
        elif path.is_file():
            _add_file(path, chosen, problems)
        else:
            problems.append(Problem(str(path), 1, "path", "no such file or folder", "a rule or playbook file"))
    if not chosen.rules and not chosen.rules_from:
        rules_dir = Path(config.rules_dir)
        chosen.rules = _yaml_in(rules_dir) if rules_dir.is_dir() else []
        chosen.rules_from = [str(rules_dir)]
        test_folders.append(rules_dir / "tests")
        if not rules_dir.is_dir():
            problems.append(Problem(str(rules_dir), 1, "rules_dir", "no such directory", "a folder of rule files"))
    if not chosen.playbooks and not chosen.playbooks_from:
        folder = Path(config.playbooks_dir)
        chosen.playbooks = _yaml_in(folder) if folder.is_dir() else []
        chosen.playbooks_from = [str(folder)]
        if not folder.is_dir():
            problems.append(Problem(str(folder), 1, "playbooks_dir", "no such directory", "a folder of playbooks"))
    if not chosen.tests:
        for folder in test_folders:
            if folder.is_dir():
                chosen.tests.extend(_yaml_in(folder))
                chosen.tests_from.append(str(folder))
    return chosen, problems


def _add_folder(folder: Path, chosen: Selection, test_folders: list[Path]) -> None:
    kinds = {path: kind_of(path) for path in _yaml_in(folder)}
    for path, kind in kinds.items():
        {"rules": chosen.rules, "playbook": chosen.playbooks, "tests": chosen.tests}.get(kind or "", []).append(path)
    if any(k == "rules" for k in kinds.values()):
        chosen.rules_from.append(str(folder))
        test_folders.append(folder / "tests")
    if any(k == "playbook" for k in kinds.values()):
        chosen.playbooks_from.append(str(folder))
    if any(k == "tests" for k in kinds.values()):
        chosen.tests_from.append(str(folder))


def _add_file(path: Path, chosen: Selection, problems: list[Problem]) -> None:
    kind = kind_of(path)
    if kind == "rules":
        chosen.rules.append(path)
        chosen.rules_from.append(str(path))
    elif kind == "playbook":
        chosen.playbooks.append(path)
        chosen.playbooks_from.append(str(path))
    elif kind == "tests":
        chosen.tests.append(path)
        chosen.tests_from.append(str(path))
    else:
        try:
            from monitor.config.yamlload import load_yaml

            load_yaml(path)  # a YAML error is the better message
        except ConfigError as exc:
            problems.extend(exc.problems)
            return
        problems.append(
            Problem(
                str(path),
                1,
                "(document)",
                "neither rules, tests nor a playbook",
                "a rule file (rules:), a rule test file (tests:) or a playbook (id:, phases:)",
            )
        )


def load_selected(config: AppConfig, chosen: Selection, *, check_sources: bool) -> Definitions:
    """The definitions in the chosen files, cross-checked; every problem at once, as one ConfigError."""
    problems: list[Problem] = []
    playbooks: dict[str, Playbook] = {}
    for path in chosen.playbooks:
        book, found = load_playbook(path)
        problems.extend(found)
        if book is not None:
            playbooks[book.id] = book
    entries = []
    for path in chosen.rules:
        found_rules, found = load_rule_file(path)
        entries.extend(found_rules)
        problems.extend(found)
    sources = config.source_names() if check_sources else None
    problems.extend(cross_check(entries, set(playbooks), sources, set(KeywordClassifier.default().keys())))
    problems.extend(companion_problems(config, entries))
    if problems:
        raise ConfigError(problems)
    return Definitions(RuleSet(entries), playbooks)


def definitions_for(
    paths: Sequence[Path], config: AppConfig, *, config_given: bool, announce: Callable[[Selection], None]
) -> tuple[Definitions, Selection]:
    """What `check`, `test` and `backtest` run on: the named files, else the config's folders.

    ``announce`` is told the selection before anything is loaded (the command's first line).
    """
    chosen, problems = select(paths, config)
    announce(chosen)
    try:
        definitions = load_selected(config, chosen, check_sources=config_given)
    except ConfigError as exc:
        raise ConfigError([*problems, *exc.problems]) from None
    if problems:
        raise ConfigError(problems)
    return definitions, chosen
