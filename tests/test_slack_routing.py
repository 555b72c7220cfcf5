"""Routing: channels by playbook, severity and rule; the operations channel; `check`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config.settings import SlackConfig, load_config
from monitor.errors import ConfigError
from monitor.incidents.ops import IncidentOps
from monitor.store import SqlStore
from monitor.testing import FakeSlackServer

from .conftest import ROOT
from .slack_world import CHANNEL, slack_world

QUALITY = "C0QUALITY1"
OPS = "C0OPERATE1"


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


def channels(slack: FakeSlackServer) -> list[tuple[str, bool]]:
    return [(c.body["channel"], "thread_ts" in c.body) for c in slack.calls("chat.postMessage")]


def test_an_incident_goes_to_its_playbooks_channel_with_its_thread(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    routes = [{"severity": "critical", "channel": "C0CRITIC01"}, {"playbook": "product_quality", "channel": QUALITY}]
    world = slack_world(store, slack, tmp_path, slack_config={"routes": routes})
    world.open_incident()
    assert channels(slack) == [(QUALITY, False), (QUALITY, True)]


def test_a_route_needs_every_field_to_match(store: SqlStore, slack: FakeSlackServer, tmp_path: Path) -> None:
    routes = [{"playbook": "product_quality", "severity": ["critical"], "channel": QUALITY}]
    world = slack_world(store, slack, tmp_path, slack_config={"routes": routes})
    world.open_incident()  # a high-severity incident: the route does not apply
    assert channels(slack) == [(CHANNEL, False), (CHANNEL, True)]


def test_an_incident_stays_where_its_alert_went(store: SqlStore, slack: FakeSlackServer, tmp_path: Path) -> None:
    world = slack_world(store, slack, tmp_path, slack_config={"routes": [{"rule": "x", "channel": QUALITY}]})
    world.open_incident()
    new = SlackConfig(min_interval=0, routes=({"playbook": "product_quality", "channel": QUALITY},))  # type: ignore[arg-type]
    world.engine.dispatcher.notifiers["slack"].route.config = new  # type: ignore[attr-defined]  # a reload
    [incident] = store.incidents()
    IncidentOps(store, world.engine.incidents.renderers, world.engine.definitions.playbooks).note(
        incident.id, "first statement drafted", "王芳", world.clock.now()
    )
    world.engine.deliver()
    assert channels(slack)[-1] == (CHANNEL, True)


def test_admin_messages_and_delivery_failures_go_to_the_operations_channel(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    world = slack_world(store, slack, tmp_path, slack_config={"operations_channel": OPS})
    store.enqueue("slack", "admin", {"text": "reloaded 12 rule(s)"}, now=world.clock.now())
    world.engine.deliver()
    assert channels(slack) == [(OPS, False)]
    slack.fail_next("chat.postMessage", 1, error="invalid_blocks")
    world.open_incident()
    world.engine.deliver()
    posts = slack.calls("chat.postMessage")
    failure = [p for p in posts if p.body["channel"] == OPS][-1]
    assert "delivery failed for good: alert message" in failure.body["text"]
    assert "invalid_blocks" in failure.body["text"]


def test_without_an_operations_channel_admin_messages_use_the_default(
    store: SqlStore, slack: FakeSlackServer, tmp_path: Path
) -> None:
    world = slack_world(store, slack, tmp_path)
    store.enqueue("slack", "source_down", {"text": "source weibo is down"}, now=world.clock.now())
    world.engine.deliver()
    assert channels(slack) == [(CHANNEL, False)]


BAD_ROUTES = [
    ("      - {playbook: no_such_book, channel: C0X0000001}\n", "notify.slack.routes.0.playbook", "'no_such_book'"),
    ("      - {rule: no-such-rule, channel: C0X0000001}\n", "notify.slack.routes.0.rule", "'no-such-rule'"),
    ("      - {severity: urgent, channel: C0X0000001}\n", "notify.slack.routes.0.severity", "'urgent'"),
    ("      - {channel: C0X0000001}\n", "notify.slack.routes.0", "a route naming a playbook"),
    ("      - {playbook: product_quality, channel: '<!channel>'}\n", "notify.slack.routes.0.channel", "pattern"),
]


@pytest.mark.parametrize(("route", "field", "found"), BAD_ROUTES)
def test_check_names_the_line_of_a_bad_route(tmp_path: Path, route: str, field: str, found: str) -> None:
    path = tmp_path / "crisismon.yaml"
    path.write_text(
        f"rules_dir: {ROOT / 'rules'}\nplaybooks_dir: {ROOT / 'playbooks'}\n"
        "notify:\n  slack:\n    channel: C0CRISIS01\n    routes:\n" + route,
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (7, field) and found in str(problem)


def test_a_reload_routes_the_next_incidents(store: SqlStore, slack: FakeSlackServer, tmp_path: Path) -> None:
    from monitor.config.roster import Roster
    from monitor.runtime.live import LiveDaemon

    world = slack_world(store, slack, tmp_path)
    live = LiveDaemon(engine=world.engine, build_sources=lambda configs: {}, env={"SLACK_CHANNEL": CHANNEL})
    routes = [{"playbook": "product_quality", "channel": QUALITY}]
    new = world.config.model_copy(
        update={"notify": world.config.notify.model_copy(update={"slack": SlackConfig(routes=routes)})}  # type: ignore[arg-type]
    )
    live.prepare(world.config, new, Roster()).apply()
    world.open_incident()
    assert channels(slack) == [(QUALITY, False), (QUALITY, True)]
