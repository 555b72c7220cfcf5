"""The demo scenario (monitor/demo) run to its incident, with the daemon's API and console on a port."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from monitor.app import build_api, build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AuthConfig, ConsoleUser, HttpConfig
from monitor.demo.runner import demo_config
from monitor.demo.scenario import build_timeline
from monitor.demo.server import ScenarioServer
from monitor.http.api import ApiServer
from monitor.notify.render import TextRenderer
from monitor.store import SqlStore, open_store
from monitor.testing import FakeClock, RecordingNotifier
from monitor.web.auth import hash_password

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
SECRET = "a-session-secret-for-the-tests-only"
ROSTER = """\
people:
  - {name: 王芳, roles: [crisis_lead]}
  - {name: 李强, roles: [quality, safety]}
  - {name: 访客, roles: []}
escalation: [crisis_lead, management]
"""


@dataclass
class DemoWorld:
    store: SqlStore
    clock: FakeClock
    server: ApiServer
    scenario: ScenarioServer
    closers: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def incident_id(self) -> int:
        return next(i for i in self.store.incidents() if i.playbook == "product_quality").id

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()


def start(tmp: Path, *, auth: bool = True, max_steps: int = 60) -> DemoWorld:
    """Replay the demo with a fake clock, 5 minutes a cycle, until its incident opens."""
    clock = FakeClock()
    scenario = ScenarioServer(build_timeline(clock.now()), clock).__enter__()
    roster = tmp / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    users = (
        ConsoleUser(login="wangfang", password_hash=hash_password(PASSWORD), person="王芳"),
        ConsoleUser(login="guest", password_hash=hash_password(PASSWORD), person="访客"),
    )
    http = HttpConfig(
        listen="127.0.0.1:0",
        auth=AuthConfig(users=users, secure_cookie=False) if auth else None,
    )
    config = demo_config(scenario.base_url, str(tmp / "demo.db")).model_copy(
        update={"http": http, "roster": str(roster), "timezone": "Asia/Shanghai"}
    )
    store = open_store(config.database)
    definitions = load_definitions(config)
    wiring = build_engine(
        config,
        definitions,
        store,
        clock,
        notifiers={"console": RecordingNotifier()},
        renderers={"console": TextRenderer()},
        env={},
    )
    server = build_api(config, wiring, store, clock, {"CRISISMON_SESSION_SECRET": SECRET})
    world = DemoWorld(store, clock, server, scenario, [lambda: scenario.__exit__(None), store.close, wiring.close])
    for _ in range(max_steps):
        wiring.engine.cycle()
        if any(i.playbook == "product_quality" for i in store.incidents()):
            return world
        clock.advance(timedelta(minutes=5))
    world.close()
    raise AssertionError("the demo's incident did not open")
