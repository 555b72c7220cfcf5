"""Rules that act on one report: due-at-once checklist items, later reports join, checks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.app import build_engine
from monitor.cli import main
from monitor.config.loading import load_definitions
from monitor.config.rules import load_rules
from monitor.config.settings import AppConfig
from monitor.models import Item
from monitor.notify.render import TextRenderer
from monitor.runtime.engine import Engine
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSource, RecordingNotifier

from .conftest import ROOT


def engine_with(store: SqlStore, clock: FakeClock, notifier: RecordingNotifier, *sources: FakeSource) -> Engine:
    config = AppConfig(rules_dir=str(ROOT / "rules"), playbooks_dir=str(ROOT / "playbooks"))
    return build_engine(
        config,
        load_definitions(config, check_sources=False),
        store,
        clock,
        scorer=FakeScorer(),
        sources={s.name: s for s in sources},
        notifiers={"console": notifier},
        renderers={"console": TextRenderer()},
    ).engine


def report(source: str, n: int, clock: FakeClock, text: str) -> Item:
    return Item(source=source, id=f"{source}-{n}", text=text, published_at=clock.now() - timedelta(minutes=1))


def test_one_injury_report_opens_a_critical_incident_with_its_immediate_items_due_now(store: SqlStore) -> None:
    clock, notifier, complaints = FakeClock(), RecordingNotifier(), FakeSource("complaints")
    engine = engine_with(store, clock, notifier, complaints)
    complaints.add(report("complaints", 1, clock, "电暖器起火，孩子被烫伤送医院了"))
    engine.cycle()
    incidents = {i.rule_id: i for i in store.incidents()}
    harm = incidents["product-harm-immediate"]
    assert harm.severity == "critical" and harm.playbook == "product_quality"
    due_now = {e.item_id for e in harm.checklist if e.due_at == harm.opened_at}
    assert {"stop-use-advice", "report-leadership"} <= due_now
    assert [t.text for t in harm.top_items] == ["电暖器起火，孩子被烫伤送医院了"]
    alert = next(m.payload["text"] for m, _, _ in notifier.delivered if m.kind == "alert")
    assert "孩子被烫伤送医院了" in alert


def test_a_second_report_joins_the_open_incident_and_is_shown_without_a_new_alert(store: SqlStore) -> None:
    clock, notifier = FakeClock(), RecordingNotifier()
    complaints, weibo = FakeSource("complaints"), FakeSource("weibo")
    engine = engine_with(store, clock, notifier, complaints, weibo)
    complaints.add(report("complaints", 1, clock, "电暖器漏电，我老公被电击了，现在在医院"))
    engine.cycle()
    clock.advance(minutes=10)
    weibo.add(report("weibo", 2, clock, "暖居电暖器把我女儿的手烫伤了，起了好几个水泡"))
    engine.cycle()
    clock.advance(minutes=1)
    engine.cycle()  # evaluating again says nothing new
    (incident,) = [i for i in store.incidents() if i.rule_id == "product-harm-immediate"]
    assert len(store.incidents()) == 1  # the hazard signal (漏电) joined the same incident
    assert {t.source for t in incident.top_items} == {"complaints", "weibo"}
    alerts = [m for m, _, _ in notifier.delivered if m.kind == "alert" and m.update_of is None]
    assert len(alerts) == 1
    updates = [m.payload["text"] for m, _, _ in notifier.delivered if m.kind == "update"]
    assert sum("new matching item from weibo" in t for t in updates) == 1
    edits = [m for m, _, _ in notifier.delivered if m.kind == "alert" and m.update_of is not None]
    assert any("女儿的手烫伤" in m.payload["text"] for m in edits)


def test_an_ordinary_complaint_naming_the_product_opens_nothing(store: SqlStore) -> None:
    clock, notifier, complaints = FakeClock(), RecordingNotifier(), FakeSource("complaints")
    engine = engine_with(store, clock, notifier, complaints)
    complaints.add(
        report("complaints", 1, clock, "暖居X3电暖器用了三天就不制热了，要求退货"),
        report("complaints", 2, clock, "电暖器说明书没写清楚怎么定时"),
        report("complaints", 3, clock, "所幸没有人受伤，但电暖器外壳变形了"),
    )
    engine.cycle()
    assert store.incidents() == []


def test_an_immediate_rule_must_not_wait(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - id: r\n    description: d\n    playbook: p\n    for: 5m\n"
        "    condition:\n      immediate: {min_items: 1}\n",
        encoding="utf-8",
    )
    _, problems = load_rules(tmp_path, playbooks=["p"], sources=None, categories=[])
    assert [(p.line, p.found) for p in problems] == [(2, "for: 5m with an immediate condition")]


def test_check_warns_about_substring_keywords_inside_common_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(
        "rules:\n  - id: trapped\n    description: d\n    playbook: natural_disaster\n"
        "    match: {keywords_any: [被困, 停电], substring: true}\n"
        "    condition:\n      immediate: {}\n",
        encoding="utf-8",
    )
    config = tmp_path / "c.yaml"
    config.write_text(f"rules_dir: {rules}\nplaybooks_dir: {ROOT / 'playbooks'}\n", encoding="utf-8")
    assert main(["check", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert f"{rules / 'r.yaml'}:2: rule trapped: match: '被困' is matched as a substring" in err
    assert "被+困扰" in err
    assert "'停电'" in err


def test_check_warns_about_english_prefixes_in_rules_that_fire_on_one_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(
        "rules:\n  - id: harm\n    description: d\n    playbook: product_quality\n"
        "    match: {keywords_any: [hospital*, burned]}\n    condition:\n      immediate: {}\n"
        "  - id: posts\n    description: d\n    playbook: product_quality\n"
        "    match: {keywords_any: [smok*]}\n    condition:\n      threshold: {metric: count, value: 5}\n",
        encoding="utf-8",
    )
    config = tmp_path / "c.yaml"
    config.write_text(f"rules_dir: {rules}\nplaybooks_dir: {ROOT / 'playbooks'}\n", encoding="utf-8")
    assert main(["check", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert f"{rules / 'r.yaml'}:2: rule harm: match: 'hospital*' matches every word starting with 'hospital'" in err
    assert "burned" not in err and "smok" not in err  # exact forms, and a volume rule, are not warned about


def test_a_new_injury_after_the_incident_was_resolved_opens_a_new_incident(store: SqlStore) -> None:
    from monitor.models import IncidentStatus

    clock, notifier, complaints = FakeClock(), RecordingNotifier(), FakeSource("complaints")
    engine = engine_with(store, clock, notifier, complaints)
    complaints.add(report("complaints", 1, clock, "电暖器起火，孩子被烫伤送医院了"))
    engine.cycle()
    first = next(i for i in store.incidents() if i.rule_id == "product-harm-immediate")
    clock.advance(minutes=5)
    store.set_status(first.id, IncidentStatus.RESOLVED, clock.now(), by="lead")
    clock.advance(minutes=5)
    engine.cycle()  # the rule still fires on the first report: nothing new
    assert [i.id for i in store.incidents() if i.rule_id == "product-harm-immediate"] == [first.id]
    complaints.add(report("complaints", 2, clock, "又一个孩子被电暖器烫伤了"))
    engine.cycle()
    harm = [i for i in store.incidents() if i.rule_id == "product-harm-immediate"]
    assert len(harm) == 2 and harm[1].status == IncidentStatus.OPEN
