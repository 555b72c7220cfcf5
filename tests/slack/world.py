"""A daemon's HTTP API with the Slack app, the real slack-sdk client and the fake Slack Web API.

Requests are signed like Slack signs them and POSTed over real HTTP; modals open with
``views.open`` on the fake; thread posts leave through the outbox to the fake.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from monitor.app import build_engine
from monitor.config.loading import load_definitions
from monitor.config.roster import Person, Roster
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.http.api import Api, ApiServer
from monitor.incidents.kit import Facts
from monitor.incidents.ops import IncidentOps
from monitor.models import Incident, TimelineEntry
from monitor.notify.i18n import Lang
from monitor.notify.render import SlackRenderer
from monitor.slack.app import build_slack_app
from monitor.slack.client import SlackNotifier, make_web_client
from monitor.slack.signature import sign
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSilences, FakeSlackServer, FakeSource

from ..conftest import ROOT
from ..test_engine import surge

SECRET = "slack-signing-secret"
CHANNEL = "C0CRISIS01"
LEAD, LEGAL, SPOKES, STRANGER = "U0123LEAD", "U0LEGAL01", "U0SPOKE01", "U0STRANGE"
PEOPLE = (
    Person(name="王芳", slack=LEAD, roles=("crisis_lead",)),
    Person(name="陈律师", slack=LEGAL, roles=("legal",)),
    Person(name="刘洋", slack=SPOKES, roles=("spokesperson", "pr")),
)


class World:
    def __init__(self, store: SqlStore, fake: FakeSlackServer, *, lang: Lang, only_known: bool = True) -> None:
        config = AppConfig(
            rules_dir=str(ROOT / "rules"),
            playbooks_dir=str(ROOT / "playbooks"),
            scoring=ScoringConfig(negative_below=0.3),
        )
        definitions = load_definitions(config, check_sources=False)
        self.fake, self.store, self.lang = fake, store, lang
        self.clock, self.source = FakeClock(), FakeSource("complaints")
        self.roster = Roster(people=PEOPLE, slack_only_known=only_known)
        client = make_web_client("xoxb-test", base_url=fake.base_url)
        renderers = {"slack": SlackRenderer(self.roster.mentions(), lang)}
        self.wiring = build_engine(
            config,
            definitions,
            store,
            self.clock,
            scorer=FakeScorer(),
            sources={"complaints": self.source},
            notifiers={"slack": SlackNotifier(client, CHANNEL, min_interval=0)},
            renderers=renderers,
        )
        self.engine = self.wiring.engine
        self.ops = IncidentOps(store, renderers, definitions.playbooks, lang=lang)
        self.silences = FakeSilences()
        self.app = build_slack_app(
            ops=self.ops,
            playbooks=definitions.playbooks,
            roster=lambda: self.roster,
            clock=self.clock,
            lang=lang,
            facts=Facts("示例电器", "400-800-1234", ("上海", "江苏")),
            client=client,
            silences=self.silences,
        )
        self.api = Api(
            store=store,
            ops=self.ops,
            ingestor=self.engine.ingestor,
            metrics=self.engine.metrics,
            clock=self.clock,
            token="api-token",
            slack_secret=SECRET,
            slack_app=self.app,
        )
        self.server = ApiServer(self.api).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=10)

    def close(self) -> None:
        self.http.close()
        self.server.close()

    def open_incident(self) -> int:
        surge(self.clock, self.source, 0, 12)
        for _ in range(3):
            self.engine.cycle()
            self.clock.advance(minutes=5)
        return self.store.incidents()[0].id

    def incident(self, incident_id: int) -> Incident:
        return self.store.incident(incident_id)

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        return list(self.store.timeline(incident_id))

    def deliver(self) -> None:
        self.engine.deliver()

    # --- what Slack sends -------------------------------------------------------------

    def signed(self, path: str, body: bytes, *, age: int = 0, tamper: bool = False) -> httpx.Response:
        timestamp = str(int(self.clock.now().timestamp()) - age)
        signature = sign(SECRET, timestamp, body)
        if tamper:
            body = body + b"x"
        headers = {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.clock.advance(seconds=1)  # two identical requests in one second would be replays
        return self.http.post(path, content=body, headers=headers)

    def interact(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.signed("/slack/interactions", urlencode({"payload": json.dumps(payload)}).encode(), **kwargs)

    def click(self, user: str, action_id: str, value: dict[str, Any], *, select: bool = False) -> httpx.Response:
        action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "action_ts": "1.3"}
        if select:
            action |= {"type": "static_select", "selected_option": {"value": json.dumps(value)}}
        else:
            action |= {"type": "button", "value": json.dumps(value)}
        return self.interact(
            {
                "type": "block_actions",
                "trigger_id": "1337.42.abcd",
                "user": {"id": user, "username": f"user-{user.lower()}"},
                "container": {"type": "message", "message_ts": "1.2", "channel_id": CHANNEL},
                "channel": {"id": CHANNEL},
                "actions": [action],
            }
        )

    def button_value(self, incident_id: int, action_id: str) -> dict[str, Any]:
        """The value of a button of the alert as crisismon last posted it to Slack."""
        for message in reversed(self.fake.messages):
            for block in message.blocks:
                if block.get("type") != "actions":
                    continue
                for element in block["elements"]:
                    if element.get("action_id") != action_id:
                        continue
                    raw = element.get("value") or element["options"][0]["value"]
                    value: dict[str, Any] = json.loads(raw)
                    if value.get("incident") == incident_id:
                        return value
        raise AssertionError(f"no {action_id} element for incident {incident_id} in Slack")

    def submit(self, user: str, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> httpx.Response:
        """Submit ``view`` (as opened on the fake) with ``values``: block_id -> action state."""
        state = {block: {block: value} for block, value in values.items()}
        submitted = {**view, "id": "V0FAKE", "state": {"values": state}}
        payload = {"type": "view_submission", "user": {"id": user, "username": "someone"}, "view": submitted}
        return self.interact(payload)

    def command(self, user: str, text: str, **kwargs: Any) -> httpx.Response:
        form = {
            "command": "/crisis",
            "text": text,
            "user_id": user,
            "user_name": f"user-{user.lower()}",
            "channel_id": "C0ELSEWHERE",
            "trigger_id": "1.2.3",
        }
        return self.signed("/slack/commands", urlencode(form).encode(), **kwargs)

    def last_view(self, callback_id: str) -> dict[str, Any]:
        views = [v for v in self.fake.views if v.get("callback_id") == callback_id]
        assert views, f"no {callback_id} modal was opened"
        return views[-1]


def text_value(text: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": text}


def user_value(user: str) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": user}


def option_value(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}
