"""An engine posting to the fake Slack Web API with a given config (routes, escalation…)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, NotifyConfig, ScoringConfig, SlackConfig
from monitor.runtime.engine import Engine
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSlackServer, FakeSource

from .conftest import ROOT
from .test_engine import surge

CHANNEL = "C0CRISIS01"
ROSTER = """
people:
  - {name: 王芳, slack: U0LEAD001, roles: [crisis_lead]}
  - {name: 赵总, slack: U0BOSS001, roles: [management]}
escalation: [crisis_lead, management]
"""


@dataclass
class SlackWorld:
    engine: Engine
    clock: FakeClock
    source: FakeSource
    config: AppConfig

    def open_incident(self) -> None:
        surge(self.clock, self.source, 0, 12)
        for _ in range(3):
            self.engine.poll("complaints")
            self.engine.evaluate()
            self.engine.deliver()
            self.clock.advance(minutes=5)


def slack_world(
    store: SqlStore,
    slack: FakeSlackServer,
    tmp_path: Path,
    *,
    slack_config: dict[str, Any] | None = None,
    incidents: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
) -> SlackWorld:
    """``settings``: further top-level config keys (e.g. ``{"locale": "zh-CN"}``)."""
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    config = AppConfig.model_validate(
        {
            "notify": NotifyConfig(console=False, slack=SlackConfig(min_interval=0, **(slack_config or {}))),
            "rules_dir": str(ROOT / "rules"),
            "playbooks_dir": str(ROOT / "playbooks"),
            "roster": str(tmp_path / "roster.yaml"),
            "scoring": ScoringConfig(negative_below=0.3),
            "incidents": incidents or {},
            **(settings or {}),
        }
    )
    environment = (
        env
        if env is not None
        else {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_CHANNEL": CHANNEL, "CRISISMON_SLACK_API_URL": slack.base_url}
    )
    clock, source = FakeClock(), FakeSource("complaints")
    engine = build_engine(
        config,
        load_definitions(config, check_sources=False),
        store,
        clock,
        scorer=FakeScorer(),
        sources={"complaints": source},
        env=environment,
    ).engine
    return SlackWorld(engine, clock, source, config)
