from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitor.config.loading import load_definitions
from monitor.config.reload import Reloader
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeSource, RecordingNotifier

from .conftest import ROOT
from .test_engine import make_engine, surge


def copy_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    return rules


def test_a_valid_change_is_swapped_in_and_a_broken_one_keeps_the_old_set(store: SqlStore, tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    config = AppConfig(
        rules_dir=str(rules), playbooks_dir=str(ROOT / "playbooks"), scoring=ScoringConfig(negative_below=0.3)
    )
    clock, notifier = FakeClock(), RecordingNotifier()
    engine = make_engine(store, clock, FakeSource("complaints"), notifier)
    engine.swap_definitions(load_definitions(config, check_sources=False))
    reloader = Reloader(
        engine,
        config,
        store,
        {"console": TextRenderer()},
        clock,
        load=lambda c: load_definitions(c, check_sources=False),
    )
    assert reloader.check_files() is None  # nothing changed

    (rules / "legal_dispute.yaml").unlink()
    assert reloader.check_files() is True
    assert "legal-dispute-reports" not in {r.id for r in engine.definitions.rules.rules}

    before = engine.definitions
    (rules / "broken.yaml").write_text("rules:\n  - id: x\n    playbook: nope\n", encoding="utf-8")
    assert reloader.check_files() is False
    assert engine.definitions is before
    engine.deliver()
    ((message, _, _),) = notifier.delivered
    assert message.kind == "admin" and "reload refused" in message.payload["text"]
    assert "broken.yaml:2: rules.0.description: found nothing" in message.payload["text"]


@pytest.mark.slow
def test_sighup_reloads_a_running_daemon_and_sigterm_stops_it(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"rules_dir: rules\nplaybooks_dir: {ROOT / 'playbooks'}\nscoring: {{workers: 0}}\n"
        "sources:\n"  # nothing listens on port 9: every poll fails, and the daemon keeps running
        "  - {name: complaints, type: complaints_api, url: 'http://127.0.0.1:9/c', interval: 1s, timeout: 1s}\n"
        "  - {name: news, type: rss, url: 'http://127.0.0.1:9/n', interval: 1s, timeout: 1s}\n"
        "  - {name: weibo, type: rsshub, instance: 'http://127.0.0.1:9', route: /weibo/keyword/x, interval: 1s}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "daemon.py"),
            "run",
            "--config",
            str(config),
            "--db",
            str(tmp_path / "d.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        time.sleep(4)
        (rules / "broken.yaml").write_text("rules: [1]\n", encoding="utf-8")
        os.kill(proc.pid, signal.SIGHUP)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "reload refused" in err and "broken.yaml:1" in err
    assert "source complaints:" in err and "ConnectError" in err  # failures logged, not fatal


def test_api_operations_use_the_playbooks_of_the_current_reload(store: SqlStore, tmp_path: Path) -> None:
    from monitor.app import build_api

    playbooks = tmp_path / "playbooks"
    shutil.copytree(ROOT / "playbooks", playbooks)
    config = AppConfig(
        rules_dir=str(ROOT / "rules"),
        playbooks_dir=str(playbooks),
        scoring=ScoringConfig(negative_below=0.3),
        http={"listen": "127.0.0.1:0"},
    )
    clock = FakeClock()
    engine = make_engine(store, clock, FakeSource("complaints"), RecordingNotifier())
    engine.swap_definitions(load_definitions(config, check_sources=False))
    wiring = type("W", (), {"engine": engine, "renderers": {"console": TextRenderer()}, "closers": []})()
    server = build_api(config, wiring, store, clock, {"CRISISMON_API_TOKEN": "t"})
    try:
        path = playbooks / "product_quality.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("title_en:", "title_en: Renamed -", 1), "utf-8")
        engine.swap_definitions(load_definitions(config, check_sources=False))
        assert server.api.ops.playbooks["product_quality"].title_en.startswith("Renamed -")
    finally:
        server.close()


def test_a_rule_edited_at_scale_is_rebuilt_while_the_other_rules_keep_alerting(
    store: SqlStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = copy_rules(tmp_path)
    config = AppConfig(
        rules_dir=str(rules), playbooks_dir=str(ROOT / "playbooks"), scoring=ScoringConfig(negative_below=0.3)
    )
    clock, source, notifier = FakeClock(), FakeSource("complaints"), RecordingNotifier()
    engine = make_engine(store, clock, source, notifier)
    engine.swap_definitions(load_definitions(config, check_sources=False))
    engine.cycle()  # every rule built
    evaluated: list[str] = []
    timed = engine.evaluator.evaluate_timed
    engine.evaluator.evaluate_timed = lambda rule, *a: (evaluated.append(rule.id), timed(rule, *a))[1]  # type: ignore[method-assign]

    service = rules / "service_complaints.yaml"  # an admin narrows a rule: its hits must be rebuilt
    service.write_text(service.read_text(encoding="utf-8").replace("logistics, contract]", "logistics]"), "utf-8")
    engine.swap_definitions(load_definitions(config, check_sources=False))
    rebuilds = engine.evaluator.rebuilds
    assert rebuilds is not None
    book, gate = engine.evaluator.hits, threading.Event()
    rebuild = book.rebuild  # type: ignore[attr-defined]
    book.rebuild = lambda *a: (gate.wait(30), rebuild(*a))  # type: ignore[attr-defined]  # a store of millions
    rebuilds.wait_for = 0.05

    surge(clock, source, 100, 12)
    caplog.set_level(logging.INFO, logger="monitor.detect.rebuilds")
    for _ in range(4):  # the surge is judged (`for: 10m`) while the edited rule is rebuilt
        engine.cycle()
        clock.advance(minutes=5)
    assert "service-complaint-surge" not in evaluated and "product-quality-complaint-surge" in evaluated
    assert [i.rule_id for i in store.incidents()] == ["product-quality-complaint-surge"]
    assert notifier.kinds()[:1] == ["alert"]
    warned = [r.getMessage() for r in caplog.records if "not evaluated until" in r.getMessage()]
    assert warned == ["rule service-complaint-surge: not evaluated until its hits are rebuilt (see the progress lines)"]

    gate.set()
    assert rebuilds.wait(30)
    evaluated.clear()
    engine.evaluate()
    assert "service-complaint-surge" in evaluated
