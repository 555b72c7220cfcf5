"""A reload follows the config file: sources added, changed and removed, the roster, routing, timers."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.app import build_engine, build_sources
from monitor.config.loading import load_definitions
from monitor.config.reload import Reloader
from monitor.config.settings import load_config
from monitor.notify.render import SlackRenderer, TextRenderer
from monitor.runtime.live import LiveDaemon
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, RecordingNotifier

from .conftest import ROOT

ROSTER = "people:\n  - {{name: {lead}, slack: U0LEAD{n}, roles: [crisis_lead]}}\n"
RECORD = '{{"id": "{id}", "time": "2026-11-19T23:00:00+00:00", "text": "加热器冒烟了"}}\n'


def write_config(folder: Path, sources: list[str], *, lead: str = "王芳", n: int = 1, ack: str = "15m") -> Path:
    (folder / "roster.yaml").write_text(ROSTER.format(lead=lead, n=n), encoding="utf-8")
    lines = [f"  - {{name: {s}, type: file_drop, path: {s}, interval: 1m}}" for s in sources]
    path = folder / "crisismon.yaml"
    path.write_text(
        "rules_dir: rules\nplaybooks_dir: playbooks\nroster: roster.yaml\nscoring: {workers: 0}\n"
        f"incidents: {{ack_timeout: {ack}}}\nsources:\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    return path


class Daemon:
    def __init__(self, folder: Path, store: SqlStore) -> None:
        for name in ("one", "two"):
            (folder / name).mkdir()
            (folder / name / f"{name}.jsonl").write_text(RECORD.format(id=name), encoding="utf-8")
        (folder / "rules").mkdir()
        shutil.copytree(ROOT / "playbooks", folder / "playbooks")
        self.path = write_config(folder, ["one"])
        config = load_config(self.path)
        self.clock, self.notifier = FakeClock(), RecordingNotifier()
        slack = SlackRenderer({"crisis_lead": "U0LEAD1"})
        self.wiring = build_engine(
            config,
            load_definitions(config),
            store,
            self.clock,
            scorer=FakeScorer(),
            notifiers={"console": self.notifier},
            renderers={"console": TextRenderer(), "slack": slack},
        )
        self.slack = slack
        self.engine = self.wiring.engine
        self.client = httpx.Client()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(print, "interval", seconds=60, id="poll:one")
        self.live = LiveDaemon(
            engine=self.engine,
            build_sources=lambda configs: build_sources(configs, self.client),
            health=self.wiring.health,
            renderers=[self.wiring.renderers],
            scheduler=self.scheduler,
        )
        self.reloader = Reloader(
            self.engine, config, store, {"console": TextRenderer()}, self.clock, config_path=self.path, live=self.live
        )

    def close(self) -> None:
        self.client.close()
        self.wiring.close()


@pytest.fixture
def daemon(tmp_path: Path, store: SqlStore) -> Daemon:
    d = Daemon(tmp_path, store)
    yield d  # type: ignore[misc]
    d.close()


def test_a_source_added_to_the_config_is_polled_after_a_reload(daemon: Daemon, tmp_path: Path) -> None:
    write_config(tmp_path, ["one", "two"])
    assert daemon.reloader.check_files() is True  # the config file changed: no SIGHUP needed
    assert set(daemon.engine.sources) == {"one", "two"}
    assert daemon.scheduler.get_job("poll:two") is not None
    assert daemon.wiring.health is not None and "two" in daemon.wiring.health.watched
    assert daemon.engine.poll("two") == 1
    assert 'crisismon_items_total{source="two"} 1.0' in daemon.engine.metrics.exposition()

    write_config(tmp_path, ["two"])
    assert daemon.reloader.check_files() is True
    assert set(daemon.engine.sources) == {"two"}
    assert daemon.scheduler.get_job("poll:one") is None


def test_the_roster_and_the_sla_follow_a_reload(daemon: Daemon, tmp_path: Path) -> None:
    write_config(tmp_path, ["one"], lead="李强", n=2, ack="5m")
    assert daemon.reloader.reload() is True
    assert daemon.engine.sla.roster.people[0].name == "李强"
    assert daemon.slack.mentions == {"crisis_lead": "U0LEAD2"}
    assert daemon.engine.sla.policy.ack_timeout.total_seconds() == 300


def test_a_broken_config_keeps_everything_and_says_why(daemon: Daemon, tmp_path: Path) -> None:
    before = (dict(daemon.engine.sources), daemon.engine.sla.roster, daemon.engine.definitions)
    text = daemon.path.read_text(encoding="utf-8").replace("type: file_drop", "type: ftp")
    daemon.path.write_text(text, encoding="utf-8")
    assert daemon.reloader.check_files() is False
    assert (dict(daemon.engine.sources), daemon.engine.sla.roster, daemon.engine.definitions) == before
    daemon.engine.deliver()
    ((message, _, _),) = daemon.notifier.delivered
    assert message.kind == "admin" and "reload refused" in message.payload["text"]
    assert f"{daemon.path}:" in message.payload["text"] and "sources.0.type" in message.payload["text"]


def test_what_needs_a_restart_is_said(daemon: Daemon, tmp_path: Path) -> None:
    daemon.path.write_text(daemon.path.read_text(encoding="utf-8") + "database: other.db\n", encoding="utf-8")
    assert daemon.reloader.reload() is True
    daemon.engine.deliver()
    texts = [m.payload["text"] for m, _, _ in daemon.notifier.delivered]
    assert any("database changed: restart the daemon to apply it" in t for t in texts), texts
