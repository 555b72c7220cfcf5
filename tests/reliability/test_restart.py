"""Stopping and restarting in the middle of a scenario gives the same decisions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.demo.scenario import build_timeline
from monitor.models import Item
from monitor.store import open_store
from monitor.testing import FakeClock, FakeSource, RecordingNotifier

from ..test_engine import make_engine

STEPS = 60  # five-minute steps: the calm end and the surge of the demo scenario


def scenario_source(clock: FakeClock) -> FakeSource:
    source = FakeSource("complaints")
    for event in build_timeline(clock.now()):
        if event.channel == "complaints":
            attrs = {k: v for k, v in (("product", event.product), ("region", event.region)) if v}
            source.add(
                Item(
                    source="complaints",
                    id=event.id,
                    text=event.text,
                    published_at=event.at,
                    kind="complaint",
                    category=event.category,
                    attrs=attrs,
                )
            )
    return source


def run(db: Path, restart_at: int | None) -> list[tuple[int, str, str, str]]:
    clock = FakeClock()
    source = scenario_source(clock)
    store = open_store(str(db))
    engine = make_engine(store, clock, source, RecordingNotifier())
    decisions = []
    for step in range(STEPS):
        if step == restart_at:
            store.close()
            store = open_store(str(db))
            engine = make_engine(store, clock, source, RecordingNotifier())
        engine.poll("complaints")
        decisions += [(step, s.rule_id, s.group, s.state.value) for s in engine.evaluate()]
        clock.advance(timedelta(minutes=5))
    decisions += [(STEPS, "incident", i.group, i.status.value) for i in store.incidents()]
    store.close()
    return decisions


def test_a_restart_mid_scenario_changes_no_decision(tmp_path: Path) -> None:
    straight = run(tmp_path / "straight.db", None)
    assert any(state == "firing" for *_, state in straight), "the scenario should fire"
    assert any(kind == "incident" for _, kind, _, _ in straight)
    for restart_at in (10, 17, 30):
        assert run(tmp_path / f"restart{restart_at}.db", restart_at) == straight
