"""Slack interactivity over Socket Mode, for installs that Slack cannot reach over HTTP.

With an app-level token (``xapp-…``, scope ``connections:write``) crisismon opens a
websocket to Slack (``apps.connections.open``) and Slack sends button clicks and checkbox
ticks through it instead of POSTing them to a Request URL. No public URL and no signing
secret are needed: the websocket itself is authenticated by the app token.

:class:`SocketModeListener` uses slack_sdk's built-in client (stdlib only, no extra
dependency). Every envelope is acknowledged at once (Slack wants an ack within 3 seconds and
otherwise retries); then the payload of an ``interactive`` ``block_actions`` envelope is
passed to ``handler`` (a ``view_submission`` is handled first and the handler's answer sent
with the ack, as Slack asks for modals), which turns it into an action with
:func:`monitor.slack.interactions.action_from_payload` and applies it, exactly like the
HTTP endpoint does after checking the signature. Anything else (events, slash commands,
other interactions) is acknowledged and ignored. A handler that raises is logged; the
listener keeps running. The client reconnects by itself when Slack rotates the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitor.slack.client import make_web_client
from monitor.slack.interactions import InteractionError

log = logging.getLogger(__name__)

APP_TOKEN_ENV = "SLACK_APP_TOKEN"

Handler = Callable[[dict[str, Any]], object]


class SocketModeUnavailable(RuntimeError):
    """The websocket could not be opened (bad app token, Slack unreachable…)."""


class Acknowledger(Protocol):
    """The part of a Socket Mode client the listener needs: sending an envelope's ack."""

    def send_socket_mode_response(self, response: SocketModeResponse) -> None: ...


class SocketClient(Acknowledger, Protocol):
    """A Socket Mode client the listener can register with, connect and close."""

    socket_mode_request_listeners: list[Any]

    def connect(self) -> None: ...

    def close(self) -> None: ...


def default_client(app_token: str, web_client: WebClient) -> SocketClient:
    """slack_sdk's built-in Socket Mode client (threads, auto-reconnect)."""
    client: SocketClient = SocketModeClient(app_token=app_token, web_client=web_client, logger=log)
    return client


class SocketModeListener:
    """Receives interactions over Socket Mode and passes each block action's payload to ``handler``.

    ``start()`` connects (in background threads) and returns; ``stop()`` closes the socket.
    ``client_factory`` builds the Socket Mode client (tests pass a fake one); ``web_client``
    is used for ``apps.connections.open`` and defaults to one on ``$CRISISMON_SLACK_API_URL``
    or Slack's API.
    """

    def __init__(
        self,
        app_token: str,
        handler: Handler,
        *,
        web_client: WebClient | None = None,
        client_factory: Callable[[str, WebClient], SocketClient] = default_client,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not app_token.startswith("xapp-"):
            raise ValueError(
                f"{APP_TOKEN_ENV} must be an app-level token (xapp-…) with the connections:write scope, "
                f"not {app_token[:5]!r}…"
            )
        self.app_token = app_token
        self.handler = handler
        self._web_client = web_client
        self._client_factory = client_factory
        self._env = env
        self.client: SocketClient | None = None

    def start(self) -> None:
        """Open the websocket; interactions then arrive on the client's worker threads.

        Raises :class:`SocketModeUnavailable` (and leaves nothing running) when it cannot.
        """
        if self.client is not None:
            return
        web_client = self._web_client or make_web_client(self.app_token, env=self._env)
        client = self._client_factory(self.app_token, web_client)
        client.socket_mode_request_listeners.append(self.on_request)
        try:
            client.connect()
        except SlackApiError as exc:
            client.close()
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            raise SocketModeUnavailable(
                f"Slack Socket Mode could not connect: {error or exc} (check {APP_TOKEN_ENV} and that Socket Mode "
                "is enabled for the app)"
            ) from exc
        except (SlackClientError, OSError) as exc:
            client.close()
            raise SocketModeUnavailable(f"Slack Socket Mode could not connect: {type(exc).__name__}: {exc}") from exc
        self.client = client
        log.info("Slack Socket Mode connected: interactions arrive over the websocket")

    def stop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()

    def on_request(self, client: Acknowledger, request: SocketModeRequest) -> None:
        """Ack ``request``; hand a block action's payload to the handler after the ack, and a
        modal submission's before it, so that the handler's answer (a dict such as
        ``{"response_action": "errors", …}``) rides on the ack as Slack expects."""
        payload = request.payload
        kind = payload.get("type") if isinstance(payload, dict) else None
        if request.type != "interactive" or kind not in ("block_actions", "view_submission"):
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
            log.debug("ignored a Socket Mode %s envelope (%s)", request.type, kind)
            return
        if kind == "block_actions":
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
            self._handle(payload)
            return
        answer = self._handle(payload)
        body = answer if isinstance(answer, dict) and answer else None
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=body))

    def _handle(self, payload: dict[str, Any]) -> object:
        try:
            return self.handler(payload)
        except InteractionError as exc:
            log.warning("refused a Slack interaction over Socket Mode: %s", exc)
        except Exception:
            log.exception("handling a Slack interaction over Socket Mode failed")
        return None
