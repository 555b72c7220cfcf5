"""Load and cross-check everything an admin edits: config, playbooks, rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from monitor.config.catalogue import load_catalogue
from monitor.config.playbooks import Playbook, load_playbooks
from monitor.config.roster import load_roster
from monitor.config.rules import Rule, RuleSet, load_rules
from monitor.config.settings import AppConfig, load_config
from monitor.errors import ConfigError, Problem
from monitor.store.prune import retention_problems
from monitor.text.classify import KeywordClassifier


@dataclass(frozen=True)
class Definitions:
    """The validated rule set and playbooks the daemon runs with (swapped whole on reload)."""

    rules: RuleSet
    playbooks: dict[str, Playbook]


def load_definitions(config: AppConfig, *, check_sources: bool = True) -> Definitions:
    """Every problem of every file at once, as one ConfigError."""
    problems: list[Problem] = []
    playbooks, found = load_playbooks(Path(config.playbooks_dir))
    problems.extend(found)
    rules, found = load_rules(
        Path(config.rules_dir),
        playbooks=playbooks,
        sources=config.source_names() if check_sources else None,
        categories=KeywordClassifier.default().keys(),
    )
    problems.extend(found)
    problems.extend(companion_problems(config, rules.entries))
    if problems:
        raise ConfigError(problems)
    return Definitions(rules, playbooks)


def companion_problems(config: AppConfig, entries: Iterable[tuple[Rule, str, int]]) -> list[Problem]:
    """What the rules need of the rest of the config: a retention covering their lookbacks, a
    roster and a product catalogue that load."""
    problems = list(retention_problems(config.retention, entries))
    for path, load in ((config.roster, load_roster), (config.products, load_catalogue)):
        if path:
            try:
                load(Path(path))
            except ConfigError as exc:
                problems.extend(exc.problems)
    return problems


def load_all(config_path: Path | None) -> tuple[AppConfig, Definitions]:
    """Config plus definitions; config problems and definition problems reported together."""
    config = load_config(config_path)
    return config, load_definitions(config, check_sources=config_path is not None)
