"""One view of the current definitions: after a reload no component holds what was loaded at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monitor.app import build_api, build_engine
from monitor.config.loading import Definitions, load_definitions
from monitor.config.playbooks import Playbook
from monitor.config.roster import Roster
from monitor.config.rules import Rule, RuleSet
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSource, RecordingNotifier

from .conftest import ROOT

DEFINITION_TYPES = (Definitions, RuleSet, Roster, Playbook, Rule)


def holders(
    root: object, path: str = "engine", seen: set[int] | None = None, depth: int = 0
) -> Iterator[tuple[str, Any]]:
    """Every object reachable from ``root`` through attributes, mappings and sequences, with its path."""
    seen = set() if seen is None else seen
    if id(root) in seen or depth > 8 or isinstance(root, str | bytes | int | float | type):
        return
    seen.add(id(root))
    yield path, root
    children: list[tuple[str, object]] = []
    if isinstance(root, dict):
        children = [(f"{path}[{k!r}]", v) for k, v in root.items()]
    elif isinstance(root, list | tuple | set | frozenset):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(root)]
    elif hasattr(root, "__dict__") and type(root).__module__.startswith("monitor"):
        children = [(f"{path}.{k}", v) for k, v in vars(root).items()]
    for child_path, child in children:
        yield from holders(child, child_path, seen, depth + 1)


def test_after_a_reload_no_component_holds_the_definitions_loaded_at_start(store: SqlStore, tmp_path: Path) -> None:
    (tmp_path / "roster.yaml").write_text("escalation: [crisis_lead]\n", encoding="utf-8")
    config = AppConfig(
        rules_dir=str(ROOT / "rules"),
        playbooks_dir=str(ROOT / "playbooks"),
        roster=str(tmp_path / "roster.yaml"),
        scoring=ScoringConfig(negative_below=0.3),
    )
    start = load_definitions(config, check_sources=False)
    wiring = build_engine(
        config,
        start,
        store,
        FakeClock(),
        scorer=FakeScorer(),
        sources={"complaints": FakeSource("complaints")},
        notifiers={"console": RecordingNotifier()},
        renderers={"console": TextRenderer()},
    )
    engine = wiring.engine
    api = build_api(config, wiring, store, FakeClock(), {})
    started_with = {id(engine.current.roster)}
    started_with |= {
        id(x) for x in (start, start.rules, start.playbooks, *start.playbooks.values(), *start.rules.rules)
    }

    fresh = load_definitions(config, check_sources=False)
    engine.swap_definitions(fresh, roster=Roster(escalation=("management",)), config=config)

    stale = [path for path, obj in holders((engine, api)) if id(obj) in started_with]
    assert stale == [], f"these still hold start-up definitions: {stale}"
    some = next(iter(fresh.playbooks))
    assert engine.incidents.playbooks[some] is fresh.playbooks[some]
    assert len(stale_check := [p for p, _ in holders((engine, api))]) > 50, stale_check  # the walk reaches far
    assert engine.sla.roster.escalation == ("management",)
