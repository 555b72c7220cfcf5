"""The daemon's HTTP API: health, metrics, incident operations, complaint intake, Slack actions.

Slack: ``POST /slack/interactions`` (buttons, modals) and ``POST /slack/commands`` (``/crisis``)
are verified (signature, age, replay) here, then handed to ``slack_app``
(:class:`monitor.slack.app.SlackApp`).

``Api.handle`` is plain request -> response logic (tested without sockets); ``ApiServer``
serves it with the standard library's threading HTTP server.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs

from monitor.clock import Clock
from monitor.errors import InvalidOperation, NotFound
from monitor.http.server import HttpServer, Limits, Reply, Request, Response, error
from monitor.http.silences import silence_routes
from monitor.incidents.ops import IncidentOps
from monitor.models import FetchResult, Incident, Item, TimelineEntry
from monitor.runtime.ingest import Ingestor
from monitor.runtime.metrics import Metrics
from monitor.sources.complaints import parse_record
from monitor.store import DatabaseUnavailable

log = logging.getLogger(__name__)


class ApiStore(Protocol):
    """What the HTTP API reads."""

    def first_sighting(self, key: str, now: datetime, keep: timedelta) -> bool: ...

    def incident(self, incident_id: int) -> Incident: ...

    def incidents(self, *, active_only: bool = False) -> list[Incident]: ...

    def timeline(self, incident_id: int) -> list[TimelineEntry]: ...


MAX_BATCH = 1000
ID = r"(\d{1,18})"  # a longer number is no incident of ours: 404, not an overflow
MAX_MUTE_HOURS = 72


OPS = ("ack", "stable", "resolve", "close", "tick", "untick", "note", "mute")


class Api:
    def __init__(
        self,
        *,
        store: ApiStore,
        ops: IncidentOps,
        ingestor: Ingestor,
        metrics: Metrics,
        clock: Clock,
        token: str | None,
        slack_secret: str | None = None,
        intake_source: str = "intake",
        max_body: int = 1_000_000,
        slack_app: Any = None,
    ) -> None:
        self.store = store
        self.ops = ops
        self.ingestor = ingestor
        self.metrics = metrics
        self.clock = clock
        self.token = token
        self.slack_secret = slack_secret
        self.intake_source = intake_source
        self.max_body = max_body
        self.slack_app = slack_app  # monitor.slack.app.SlackApp: modals, statements, /crisis
        self.readiness: Any = None  # monitor.runtime.readiness.Readiness, set by the daemon (watch_daemon)
        self.console: Any = None  # monitor.web.Console, set when the web console is on
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("GET", re.compile(r"^/healthz$"), self._health),
            ("GET", re.compile(r"^/readyz$"), self._ready),
            ("GET", re.compile(r"^/metrics$"), self._metrics),
            ("GET", re.compile(r"^/v1/incidents$"), self._incidents),
            ("GET", re.compile(rf"^/v1/incidents/{ID}$"), self._incident),
            ("GET", re.compile(rf"^/v1/incidents/{ID}/review$"), self._review),
            ("POST", re.compile(rf"^/v1/incidents/{ID}/({'|'.join(OPS)})$"), self._operate),
            ("POST", re.compile(r"^/v1/complaints$"), self._intake),
            ("POST", re.compile(r"^/slack/interactions$"), self._slack),
            ("POST", re.compile(r"^/slack/commands$"), self._slack_command),
            *silence_routes(self),
        ]

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if len(body) > self.max_body:
            return error(413, f"body of {len(body)} bytes is over the limit of {self.max_body}")
        if self.console is not None:  # the web console: GET /, /incidents/..., /static/... (monitor.web)
            page: Response | None = self.console.handle(method, path, headers, body)
            if page is not None:
                return page
        path, _, query = path.partition("?")
        for verb, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and verb == method:
                if path.startswith("/v1/") and not self._authorised(headers):
                    return error(401, "send 'Authorization: Bearer <token>' with the API token")
                try:
                    return handler(*match.groups(), headers=headers, body=body, query=parse_qs(query))
                except NotFound as exc:
                    return error(404, str(exc))
                except InvalidOperation as exc:
                    return error(409, str(exc))
        if any(p.match(path) for _, p, _ in self._routes):
            return error(405, f"{method} is not allowed on {path}")
        return error(404, f"no such endpoint {path}")

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        if not self.token:
            return False
        scheme, _, given = _header(headers, "authorization").partition(" ")
        return scheme == "Bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    # -- read --------------------------------------------------------------------------

    def _health(self, **_: Any) -> Response:
        return Response(200, {"status": "ok", "time": self.clock.now().isoformat()})

    def _ready(self, **_: Any) -> Response:
        from monitor.runtime.readiness import Readiness

        if self.readiness is None:
            self.readiness = Readiness(self.store, self.clock)
        ready, report = self.readiness.report()
        return Response(200 if ready else 503, report)

    def _metrics(self, **_: Any) -> Response:
        from monitor.runtime.metrics import CONTENT_TYPE

        return Response(200, self.metrics.render(), CONTENT_TYPE)

    def _incidents(self, **_: Any) -> Response:
        return Response(200, [_incident_json(i) for i in self.store.incidents()])

    def _incident(self, incident_id: str, **_: Any) -> Response:
        incident = self.store.incident(int(incident_id))
        data = _incident_json(incident)
        data["timeline"] = [{**asdict(t), "at": t.at.isoformat()} for t in self.store.timeline(incident.id)]
        return Response(200, data)

    def _review(self, incident_id: str, *, query: Mapping[str, list[str]], **_: Any) -> Response:
        from monitor.incidents.review import review_data, review_markdown

        incident = self.store.incident(int(incident_id))
        timeline = self.store.timeline(incident.id)
        if query.get("format") == ["json"]:
            return Response(200, review_data(incident, timeline))
        return Response(200, review_markdown(incident, timeline), "text/markdown; charset=utf-8")

    # -- operations --------------------------------------------------------------------

    def _operate(self, incident_id: str, action: str, *, body: bytes, **_: Any) -> Response:
        try:
            args = json.loads(body or b"{}")
        except ValueError:
            return error(400, 'the body must be a JSON object such as {"by": "王芳"}')
        if not isinstance(args, dict) or not isinstance(args.get("by"), str) or not args["by"].strip():
            return error(400, 'say who does it: a JSON object with a non-empty "by"')
        hours = args.get("hours", 4)
        if action == "mute" and (not isinstance(hours, int) or isinstance(hours, bool) or not 0 < hours <= 72):
            return error(400, f"mute for a whole number of hours from 1 to {MAX_MUTE_HOURS}; found {str(hours)[:20]}")
        incident = self.apply(int(incident_id), action, args["by"], args)
        return Response(200, _incident_json(incident))

    def apply(self, incident_id: int, action: str, by: str, args: Mapping[str, Any]) -> Any:
        now = self.clock.now()
        if action == "ack":
            return self.ops.acknowledge(incident_id, by, now)
        if action == "stable":
            return self.ops.mark_stable(incident_id, by, now)
        if action == "resolve":
            return self.ops.resolve(incident_id, by, now)
        if action == "close":
            return self.ops.close(incident_id, by, now, force=bool(args.get("force")))
        if action in ("tick", "untick"):
            item = args.get("item")
            if not isinstance(item, str):
                raise InvalidOperation('name the checklist item: {"by": ..., "item": "<item id>"}')
            return self.ops.tick(incident_id, item, by, now, done=action == "tick")
        if action == "mute":
            hours = args.get("hours", 4)
            if not isinstance(hours, int) or isinstance(hours, bool) or not 0 < hours <= MAX_MUTE_HOURS:
                raise InvalidOperation(
                    f"mute for a whole number of hours from 1 to {MAX_MUTE_HOURS}; found {str(hours)[:20]!r}"
                )
            return self.ops.mute(incident_id, hours, by, now)
        text = args.get("text")
        if not isinstance(text, str):
            raise InvalidOperation('a note needs {"by": ..., "text": "..."}')
        return self.ops.note(incident_id, text, by, now)

    # -- intake ------------------------------------------------------------------------

    def _intake(self, *, body: bytes, **_: Any) -> Response:
        try:
            data = json.loads(body)
        except ValueError as exc:
            return error(400, f'the body is not JSON ({exc}); send one record, a list, or {{"complaints": [...]}}')
        records = data.get("complaints") if isinstance(data, dict) and "complaints" in data else data
        records = records if isinstance(records, list) else [records]
        if len(records) > MAX_BATCH:
            return error(413, f"{len(records)} records in one batch; send at most {MAX_BATCH}")
        items: list[Item] = []
        errors = []
        for index, record in enumerate(records):
            item, problem = parse_record(self.intake_source, record)
            if item is None:
                rid = record.get("id") if isinstance(record, dict) else None
                errors.append({"index": index, "id": rid, "error": problem})
            else:
                items.append(item)
        now = self.clock.now()
        added = self.ingestor.ingest(self.intake_source, FetchResult(items=items), now) if items else 0
        result = {
            "accepted": added,
            "duplicates": len(items) - added,
            "rejected": len(errors),
            "errors": errors,
        }
        self.metrics.inc("intake_records_total", added, outcome="accepted")
        self.metrics.inc("intake_records_total", len(errors), outcome="rejected")
        return Response(422 if errors else 200, result)

    # -- Slack -------------------------------------------------------------------------

    def _slack(self, *, headers: Mapping[str, str], body: bytes, **_: Any) -> Response:
        from monitor.slack.interactions import InteractionError, parse_interaction

        refused = self._verify_slack(headers, body)
        if refused is not None:
            return refused
        if self.slack_app is not None:
            from monitor.slack.interactions import decode_form_payload

            try:
                return Response(200, self.slack_app.interaction(decode_form_payload(body)))
            except InteractionError as exc:
                return error(400, str(exc))
        try:
            action = parse_interaction(body)
        except InteractionError as exc:
            return error(400, str(exc))
        refusal = self.perform(action)
        if refusal:
            return Response(200, {"response_type": "ephemeral", "text": refusal})
        return Response(200, {})

    def _slack_command(self, *, headers: Mapping[str, str], body: bytes, **_: Any) -> Response:
        """``/crisis …``: Slack POSTs a signed form (command, text, user_id, channel_id…)."""
        refused = self._verify_slack(headers, body)
        if refused is not None:
            return refused
        if self.slack_app is None:
            return error(403, "the Slack slash command is off: configure Slack (SLACK_BOT_TOKEN)")
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=30)
        except (UnicodeDecodeError, ValueError) as exc:
            return error(400, f"body is not a urlencoded form: {exc}")
        form = {key: values[0] for key, values in fields.items() if values}
        return Response(200, self.slack_app.command(form))

    def _verify_slack(self, headers: Mapping[str, str], body: bytes) -> Response | None:
        """None when the request is signed by Slack and new; else the refusal."""
        from monitor.slack.signature import MAX_AGE_SECONDS, SignatureError, replay_key, verify_slack_signature

        if not self.slack_secret:
            return error(403, "Slack interactions are off: set SLACK_SIGNING_SECRET")
        timestamp, signature = _header(headers, "x-slack-request-timestamp"), _header(headers, "x-slack-signature")
        now = self.clock.now()
        try:
            verify_slack_signature(self.slack_secret, timestamp, body, signature, now=now.timestamp())
        except SignatureError as exc:
            log.warning("refused a Slack request: %s", exc)
            return error(401, f"bad Slack signature: {exc}")
        # kept twice the validity window, so that the clocks of Slack and the daemons may differ
        if not self.store.first_sighting(replay_key(timestamp, signature), now, timedelta(seconds=2 * MAX_AGE_SECONDS)):
            log.warning("refused a replayed Slack request (timestamp %s)", timestamp)
            return error(401, "this signed Slack request was already handled (replay refused)")
        return None

    def perform(self, action: Any) -> str | None:
        """Carry out a Slack action (HTTP or Socket Mode); the reason when it is refused."""
        by = f"{action.user_name} (slack:{action.user_id})"
        try:
            if action.kind == "show_checklist":
                self.ops.show_checklist(action.incident_id, by, self.clock.now())
                return None
            args: dict[str, Any] = {"item": action.item_id, "hours": action.mute_hours}
            self.apply(action.incident_id, action.kind, by, args)
        except (InvalidOperation, NotFound) as exc:
            log.info("Slack action %s by %s refused: %s", action.kind, by, exc)
            return str(exc)
        return None


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _incident_json(incident: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(asdict(incident), default=str, ensure_ascii=False))
    return data


class ApiServer:
    """Serves an ``Api`` on ``host:port`` (port 0 picks a free one) with :mod:`monitor.http.server`."""

    def __init__(self, api: Api, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None) -> None:
        self.api = api
        limits = limits or Limits(max_body=api.max_body)
        self._server = HttpServer(self._serve, host, port, limits, name="api")

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> ApiServer:
        self._server.start()
        return self

    def close(self) -> None:
        self._server.close()

    def _serve(self, request: Request) -> Reply:
        try:
            response = self.api.handle(request.method, request.path, request.headers, request.body)
        except DatabaseUnavailable as exc:
            log.warning("API request %s %s: %s", request.method, request.path[:200], exc)
            response = Response(503, {"error": f"{exc}; retry later"}, headers={"Retry-After": "5"})
        return Reply(response.status, response.encoded(), response.content_type, response.headers)
