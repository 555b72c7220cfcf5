"""Socket Mode: envelopes are acked and block actions reach the handler (no network needed)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from test_interactions import alert_element, block_actions

from monitor.slack.interactions import Action, InteractionError, action_from_payload
from monitor.slack.socket_mode import SocketModeListener, SocketModeUnavailable
from monitor.testing.fakeslack import FakeSlackServer

APP_TOKEN = "xapp-1-A0001-123-abc"


class FakeSocketClient:
    """Records acks, registration, connect and close, like slack_sdk's client would see them."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.socket_mode_request_listeners: list[Any] = []
        self.connected = 0
        self.closed = 0

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.acks.append(response.to_dict())

    def connect(self) -> None:
        self.connected += 1

    def close(self) -> None:
        self.closed += 1


def ack_payload() -> dict[str, Any]:
    element = alert_element("ack")
    payload: dict[str, Any] = block_actions(
        {"type": "button", "action_id": "ack", "value": element["value"], "block_id": "incident:42"}
    )
    return payload


def envelope(payload: dict[str, Any], kind: str = "interactive", envelope_id: str = "env-1") -> SocketModeRequest:
    return SocketModeRequest(type=kind, envelope_id=envelope_id, payload=payload, accepts_response_payload=False)


def recording_listener() -> tuple[SocketModeListener, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    return SocketModeListener(APP_TOKEN, seen.append, web_client=WebClient()), seen


def test_a_block_action_is_acked_and_handed_over() -> None:
    listener, seen = recording_listener()
    client = FakeSocketClient()
    listener.on_request(client, envelope(ack_payload()))
    assert client.acks == [{"envelope_id": "env-1"}]
    assert seen == [ack_payload()]
    action = action_from_payload(seen[0])
    assert (action.kind, action.incident_id, action.user_id) == ("ack", 42, "U024BE7LH")


def test_the_handler_can_be_the_http_code_path() -> None:
    actions: list[Action] = []
    listener = SocketModeListener(APP_TOKEN, lambda p: actions.append(action_from_payload(p)), web_client=WebClient())
    listener.on_request(FakeSocketClient(), envelope(ack_payload()))
    assert [a.kind for a in actions] == ["ack"]


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("events_api", {"type": "event_callback", "event": {"type": "app_mention"}}),
        ("slash_commands", {"command": "/crisis", "text": "status"}),
        ("interactive", {"type": "shortcut", "callback_id": "x"}),
    ],
)
def test_anything_else_is_acked_and_ignored(kind: str, payload: dict[str, Any]) -> None:
    listener, seen = recording_listener()
    client = FakeSocketClient()
    listener.on_request(client, envelope(payload, kind=kind, envelope_id="env-9"))
    assert client.acks == [{"envelope_id": "env-9"}] and seen == []


def test_a_refused_action_is_logged_and_the_listener_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def handler(payload: dict[str, Any]) -> None:
        action_from_payload({**payload, "actions": []})

    listener = SocketModeListener(APP_TOKEN, handler, web_client=WebClient())
    client = FakeSocketClient()
    with caplog.at_level(logging.WARNING):
        listener.on_request(client, envelope(ack_payload()))
    assert "refused a Slack interaction over Socket Mode: expected exactly one action" in caplog.text
    assert client.acks == [{"envelope_id": "env-1"}]


def test_a_failing_handler_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def handler(payload: dict[str, Any]) -> None:
        raise RuntimeError("store is down")

    listener = SocketModeListener(APP_TOKEN, handler, web_client=WebClient())
    with caplog.at_level(logging.ERROR):
        listener.on_request(FakeSocketClient(), envelope(ack_payload()))
    assert "failed" in caplog.text and "store is down" in caplog.text


def test_start_registers_and_connects_once_and_stop_closes() -> None:
    made: list[FakeSocketClient] = []

    def factory(token: str, web_client: WebClient) -> FakeSocketClient:
        assert token == APP_TOKEN
        made.append(FakeSocketClient())
        return made[-1]

    listener = SocketModeListener(APP_TOKEN, lambda p: None, web_client=WebClient(), client_factory=factory)
    listener.start()
    listener.start()
    [client] = made
    assert client.connected == 1 and client.socket_mode_request_listeners == [listener.on_request]
    listener.stop()
    listener.stop()
    assert client.closed == 1


def test_the_default_web_client_follows_the_api_url_setting() -> None:
    made: list[WebClient] = []

    def factory(token: str, web_client: WebClient) -> FakeSocketClient:
        made.append(web_client)
        return FakeSocketClient()

    env = {"CRISISMON_SLACK_API_URL": "http://127.0.0.1:9/api"}
    SocketModeListener(APP_TOKEN, lambda p: None, client_factory=factory, env=env).start()
    assert made[0].base_url == "http://127.0.0.1:9/api/"


def test_a_refused_connection_is_a_clear_error_and_leaves_nothing_running(fake_slack: FakeSlackServer) -> None:
    """connect() calls apps.connections.open first; the fake Slack refuses this app token."""
    web_client = WebClient(base_url=fake_slack.base_url)

    class Refused(FakeSocketClient):
        def connect(self) -> None:
            web_client.apps_connections_open(app_token=APP_TOKEN)

    made: list[Refused] = []

    def factory(token: str, client: WebClient) -> Refused:
        made.append(Refused())
        return made[-1]

    listener = SocketModeListener(APP_TOKEN, lambda p: None, web_client=web_client, client_factory=factory)
    with pytest.raises(SocketModeUnavailable, match=r"invalid_auth \(check SLACK_APP_TOKEN"):
        listener.start()
    assert made[0].closed == 1 and listener.client is None


def test_a_network_error_is_a_clear_error() -> None:
    class Unreachable(FakeSocketClient):
        def connect(self) -> None:
            raise ConnectionRefusedError("refused")

    listener = SocketModeListener(
        APP_TOKEN, lambda p: None, web_client=WebClient(), client_factory=lambda t, w: Unreachable()
    )
    with pytest.raises(SocketModeUnavailable, match="ConnectionRefusedError"):
        listener.start()


@pytest.mark.parametrize("token", ["xoxb-bot-token", "", "xapp"])
def test_only_app_level_tokens_are_accepted(token: str) -> None:
    with pytest.raises(ValueError, match=r"app-level token \(xapp-…\)"):
        SocketModeListener(token, lambda p: None)


def test_through_slack_sdks_own_client() -> None:
    """The real SocketModeClient (not connected) dispatches an envelope to the listener, which acks it."""
    handled = threading.Event()
    seen: list[dict[str, Any]] = []

    def handler(payload: dict[str, Any]) -> None:
        seen.append(payload)
        handled.set()

    listener = SocketModeListener(APP_TOKEN, handler, web_client=WebClient())
    client = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(), auto_reconnect_enabled=False)
    sent: list[str] = []
    client.send_message = sent.append  # type: ignore[method-assign, assignment]
    try:
        client.socket_mode_request_listeners.append(listener.on_request)
        raw = json.dumps(
            {
                "type": "interactive",
                "envelope_id": "env-42",
                "payload": ack_payload(),
                "accepts_response_payload": False,
            }
        )
        client.enqueue_message(raw)
        assert handled.wait(5)
    finally:
        client.close()
    assert [json.loads(m) for m in sent] == [{"envelope_id": "env-42"}]
    assert action_from_payload(seen[0]).kind == "ack"


def test_action_from_payload_refuses_non_objects() -> None:
    with pytest.raises(InteractionError, match="JSON object"):
        action_from_payload([])  # type: ignore[arg-type]


def test_a_modal_submission_is_handled_before_the_ack_which_carries_the_answer() -> None:
    answer = {"response_action": "errors", "errors": {"text": "too long"}}
    seen: list[dict[str, Any]] = []
    listener = SocketModeListener(APP_TOKEN, lambda p: seen.append(p) or answer, web_client=WebClient())
    client = FakeSocketClient()
    submission = {"type": "view_submission", "view": {"callback_id": "status_update"}}
    listener.on_request(client, envelope(submission, kind="interactive", envelope_id="env-7"))
    assert seen == [submission]
    assert client.acks == [{"envelope_id": "env-7", "payload": answer}]
