"""Visible overload: an evaluation round longer than evaluate_every warns once, naming the
slowest rules, and is counted; every round's time is measured."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.rules import Rule
from monitor.config.settings import AppConfig
from monitor.notify.render import TextRenderer
from monitor.runtime.engine import Engine
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSource, RecordingNotifier

from .conftest import ROOT


def engine_every(store: SqlStore, every: timedelta) -> Engine:
    config = AppConfig(rules_dir=str(ROOT / "rules"), playbooks_dir=str(ROOT / "playbooks"), evaluate_every=every)
    wiring = build_engine(
        config,
        load_definitions(config, check_sources=False),
        store,
        FakeClock(),
        scorer=FakeScorer(),
        sources={"complaints": FakeSource("complaints")},
        notifiers={"console": RecordingNotifier()},
        renderers={"console": TextRenderer()},
    )
    return wiring.engine


def test_an_evaluation_longer_than_its_interval_warns_with_the_slowest_rules_and_counts(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine = engine_every(store, timedelta(microseconds=1))  # any real round takes longer
    caplog.set_level(logging.WARNING, logger="monitor.runtime.overrun")
    engine.evaluate()
    warnings = [r.getMessage() for r in caplog.records if r.name == "monitor.runtime.overrun"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("evaluation took ")
    assert "longer than evaluate_every" in warnings[0] and "slowest rules: " in warnings[0]
    rules = {r.id for r in engine.definitions.rules.rules}
    named = warnings[0].split("slowest rules: ")[1]
    assert sum(rule in named for rule in rules) == 3
    text = engine.metrics.render().decode()
    assert "crisismon_evaluation_overruns_total 1.0" in text
    assert "crisismon_evaluation_cycle_seconds_count 1.0" in text


def test_a_round_within_its_interval_is_measured_but_not_warned(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine = engine_every(store, timedelta(minutes=1))
    caplog.set_level(logging.WARNING, logger="monitor.runtime.overrun")
    engine.evaluate()
    engine.evaluate()
    assert not [r for r in caplog.records if r.name == "monitor.runtime.overrun"]
    text = engine.metrics.render().decode()
    assert "crisismon_evaluation_overruns_total 0.0" in text
    assert "crisismon_evaluation_cycle_seconds_count 2.0" in text


def test_an_overrun_spent_before_the_rules_says_so(store: SqlStore, caplog: pytest.LogCaptureFixture) -> None:
    engine = engine_every(store, timedelta(microseconds=1))
    prepare = engine.evaluator.prepare

    def slow_prepare(*args: object) -> list[Rule]:  # an edited rule rebuilt, detectors started
        time.sleep(0.3)
        return prepare(*args)  # type: ignore[arg-type]

    engine.evaluator.prepare = slow_prepare  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING, logger="monitor.runtime.overrun")
    engine.evaluate()
    [warning] = [r.getMessage() for r in caplog.records if r.name == "monitor.runtime.overrun"]
    before = warning.split("; before the rules, ")[1]
    assert float(before.split("s went to")[0]) >= 0.3, warning
    assert "rebuilding edited rules' hits and starting anomaly detectors" in before
