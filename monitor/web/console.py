"""The web console: routing, login, CSRF, and the page handlers (docs/console.md).

``Console.handle(method, path, headers, body)`` answers the console's paths (``/``,
``/incidents/...``, ``/rules``, ``/sources``, ``/login``, ``/logout``, ``/static/...``) and
returns None for every other path, which ``monitor.http.api.Api`` then serves. Pages are
rendered on the server (Jinja2, autoescaped); acting goes through ``IncidentOps`` like the
CLI and Slack, recorded under the person's roster name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from monitor.clock import Clock
from monitor.config.roster import Person, Roster
from monitor.config.rules import Rule
from monitor.errors import InvalidOperation, NotFound
from monitor.http.server import Response
from monitor.web import svg, views
from monitor.web.auth import LOGIN_COOKIE, SESSION_COOKIE, Session, Sessions, Throttle, cookie, parse_cookies
from monitor.web.auth import verify_password as check_password

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
ACTIONS = ("ack", "stable", "resolve", "tick", "untick", "note")
MAX_NOTE = 2000
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".woff2": "font/woff2"}
NEXT_PAGE = re.compile(r"^/(incidents/\d+|rules|sources)?$")


@dataclass(frozen=True)
class User:
    login: str
    password_hash: str
    person: str


@dataclass
class AuthSettings:
    users: Mapping[str, User]
    sessions: Sessions
    secure_cookie: bool
    act_roles: tuple[str, ...] = ()  # empty: any role


@dataclass(frozen=True)
class Who:
    """The person behind a request (None login: the console has no logins)."""

    login: str | None
    person: Person | None
    session: Session | None
    may_act: bool
    why_not: str


class Console:
    def __init__(
        self,
        *,
        store: Any,
        ops: Any,
        clock: Clock,
        rules: Callable[[], list[Rule]],
        roster: Callable[[], Roster],
        sources: Callable[[], Mapping[str, tuple[str, timedelta | None]]],
        evaluated: Mapping[str, datetime],
        auth: AuthSettings | None,
        ack_timeout: timedelta,
        cut: float,
        zone: tzinfo | None = None,
    ) -> None:
        self.store = store
        self.ops = ops
        self.clock = clock
        self.rules = rules
        self.roster = roster
        self.sources = sources
        self.evaluated = evaluated
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.cut = cut
        self.zone = zone or ZoneInfo("UTC")
        self.throttle = Throttle()
        self.env = Environment(
            loader=PackageLoader("monitor.web", "templates"), autoescape=True, undefined=StrictUndefined
        )
        self.env.filters["when"] = self._when
        self.env.filters["url_ok"] = _safe_url
        self.static = _static_files()
        self._get: list[tuple[re.Pattern[str], Callable[..., Response]]] = [
            (re.compile(r"^/$"), self.board),
            (re.compile(r"^/incidents/(\d{1,12})$"), self.incident),
            (re.compile(r"^/incidents/(\d{1,12})/review\.md$"), self.review),
            (re.compile(r"^/rules$"), self.rules_page),
            (re.compile(r"^/sources$"), self.sources_page),
        ]
        self._post = re.compile(rf"^/incidents/(\d{{1,12}})/({'|'.join(ACTIONS)})$")

    # -- routing ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response | None:
        route, _, query = path.partition("?")
        if not _owned(route):
            return None
        if route.startswith("/static/"):
            return self.static_file(route) if method in ("GET", "HEAD") else self.error(405, "use GET")
        if route == "/login":
            return (
                self.login_page(query) if method == "GET" else self.login(headers, body) if method == "POST" else None
            )
        who = self.who(headers)
        if self.auth is not None and who.session is None:
            if method == "GET":
                target = route if NEXT_PAGE.match(route) else "/"
                return Response(303, "", HTML, {"Location": f"/login?next={quote(target, safe='/')}"})
            return self.error(401, "log in first", status_word="Not logged in")
        if route == "/logout":
            return self.logout(who, body) if method == "POST" else self.error(405, "log out with the button")
        if method == "POST":
            match = self._post.match(route)
            if match is None:
                return self.error(404, "there is nothing to do here")
            return self.act(who, int(match.group(1)), match.group(2), body)
        if method not in ("GET", "HEAD"):
            return self.error(405, f"{method} is not allowed here")
        for pattern, page in self._get:
            found = pattern.match(route)
            if found:
                try:
                    return page(who, *found.groups())
                except NotFound as exc:
                    return self.error(404, str(exc), who=who)
        return self.error(404, "no such page", who=who)

    def who(self, headers: Mapping[str, str]) -> Who:
        if self.auth is None:
            return Who(None, None, None, False, "acting from the console needs logins (http.auth in the config)")
        session = self.auth.sessions.read(parse_cookies(_header(headers, "cookie")).get(SESSION_COOKIE), self.now())
        user = self.auth.users.get(session.login) if session else None
        if session is None or user is None:
            return Who(None, None, None, False, "log in first")
        person = next((p for p in self.roster().people if p.name == user.person), None)
        if person is None:
            return Who(user.login, None, session, False, f"{user.person} is not in the roster")
        allowed = self.auth.act_roles or person.roles
        if not set(person.roles) & set(allowed):
            need = ", ".join(self.auth.act_roles) if self.auth.act_roles else "any roster role"
            return Who(user.login, person, session, False, f"{person.name} has no role that may act (needs {need})")
        return Who(user.login, person, session, True, "")

    # -- pages --------------------------------------------------------------------------------

    def board(self, who: Who) -> Response:
        now = self.now()
        rows = views.board(self.store.incidents(), now, self.ack_timeout)
        return self.page("board.html", who, title="Incidents", rows=rows, now=now)

    def incident(self, who: Who, incident_id: str, *, problem: str = "", status: int = 200) -> Response:
        from monitor.incidents.review import review_data

        now = self.now()
        incident = self.store.incident(int(incident_id))
        timeline = self.store.timeline(incident.id)
        rule = next((r for r in self.rules() if r.id == incident.rule_id), None)
        return self.page(
            "incident.html",
            who,
            status=status,
            title=f"#{incident.id} {incident.title}",
            incident=incident,
            row=views.board([incident], now, self.ack_timeout)[0],
            checklist=views.checklist(incident, self.roster(), now),
            timeline=[(e, views.describe(e)) for e in reversed(timeline)],
            review=review_data(incident, timeline),
            muted_until=views.muted_until(timeline, now),
            chart=self._chart(rule, incident, now),
            rule=rule,
            problem=problem,
            csrf=self.csrf(who),
            now=now,
        )

    def review(self, who: Who, incident_id: str) -> Response:
        from monitor.incidents.review import review_markdown

        incident = self.store.incident(int(incident_id))
        text = review_markdown(incident, self.store.timeline(incident.id))
        return Response(200, text, "text/markdown; charset=utf-8", {"X-Content-Type-Options": "nosniff"})

    def rules_page(self, who: Who) -> Response:
        now = self.now()
        rows = views.rule_rows(self.store, self.rules(), self.evaluated, self.cut, now)
        sparks = {r.rule.id: Markup(svg.sparkline(r.spark, label=f"{r.metric} per hour, last 24 h")) for r in rows}
        return self.page("rules.html", who, title="Rules", rows=rows, sparks=sparks, now=now)

    def sources_page(self, who: Who) -> Response:
        now = self.now()
        rows = views.source_rows(self.store, self.sources(), now)
        sparks = {
            r.line.status.name: Markup(svg.sparkline([float(n) for n in r.per_day], label="items per day, last 7 days"))
            for r in rows
        }
        return self.page("sources.html", who, title="Sources", rows=rows, sparks=sparks, now=now)

    def _chart(self, rule: Rule | None, incident: Any, now: datetime) -> Markup | str:
        if rule is None:
            return f"no chart: rule {incident.rule_id} is no longer defined"
        try:
            return Markup(svg.chart(views.incident_chart(self.store, rule, incident, self.cut, now), self.zone))
        except Exception:  # a chart must never take the page down
            log.exception("chart of incident %s failed", incident.id)
            return "no chart: it could not be drawn (see the daemon's log)"

    # -- acting -------------------------------------------------------------------------------

    def act(self, who: Who, incident_id: int, action: str, body: bytes) -> Response:
        form = _form(body)
        if who.session is None:
            return self.error(403, who.why_not, who=who, status_word="Forbidden")
        if not self.auth or not Sessions.same(form.get("csrf"), self.auth.sessions.csrf(who.session)):
            return self.error(403, "the form has expired or did not come from this console; reload the page", who=who)
        if not who.may_act or who.person is None:
            return self.error(403, who.why_not, who=who, status_word="Forbidden")
        by, now = who.person.name, self.now()
        try:
            self._apply(incident_id, action, by, form, now)
        except NotFound as exc:
            return self.error(404, str(exc), who=who)
        except InvalidOperation as exc:
            log.info("console: %s on #%d by %s refused: %s", action, incident_id, by, exc)
            return self.incident(who, str(incident_id), problem=str(exc), status=409)
        log.info("console: %s on incident #%d by %s", action, incident_id, by)
        return Response(303, "", HTML, {"Location": f"/incidents/{incident_id}"})

    def _apply(self, incident_id: int, action: str, by: str, form: Mapping[str, str], now: datetime) -> None:
        if action == "ack":
            self.ops.acknowledge(incident_id, by, now)
        elif action == "stable":
            self.ops.mark_stable(incident_id, by, now)
        elif action == "resolve":
            self.ops.resolve(incident_id, by, now)
        elif action in ("tick", "untick"):
            item = form.get("item", "")
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", item):
                raise InvalidOperation("pick a checklist item from the list")
            self.ops.tick(incident_id, item, by, now, done=action == "tick")
        else:
            text = form.get("text", "").strip()
            if not text or len(text) > MAX_NOTE:
                raise InvalidOperation(f"a note needs some text, at most {MAX_NOTE} characters")
            self.ops.note(incident_id, text, by, now)

    # -- login --------------------------------------------------------------------------------

    def login_page(self, query: str, *, problem: str = "", status: int = 200, login: str = "") -> Response:
        if self.auth is None:
            return Response(303, "", HTML, {"Location": "/"})
        wanted = parse_qs(query).get("next", ["/"])[0]
        nonce = Sessions.new_nonce()
        token = self.auth.sessions.login_token(nonce)
        response = self.page(
            "login.html",
            Who(None, None, None, False, ""),
            status=status,
            title="Log in",
            next=wanted if NEXT_PAGE.match(wanted) else "/",
            token=token,
            problem=problem,
            login=login,
        )
        headers = {**response.headers, "Set-Cookie": cookie(LOGIN_COOKIE, nonce, max_age=600, secure=self._secure)}
        return Response(response.status, response.body, response.content_type, headers)

    def login(self, headers: Mapping[str, str], body: bytes) -> Response:
        if self.auth is None:
            return self.error(404, "this console has no logins")
        form = _form(body)
        nonce = parse_cookies(_header(headers, "cookie")).get(LOGIN_COOKIE, "")
        if not nonce or not Sessions.same(form.get("csrf"), self.auth.sessions.login_token(nonce)):
            return self.error(403, "the login form has expired or did not come from this console; reload it")
        login, password, now = form.get("login", "")[:64], form.get("password", ""), self.now()
        wanted = form.get("next", "/")
        query = f"next={quote(wanted if NEXT_PAGE.match(wanted) else '/', safe='/')}"
        if self.throttle.blocked(login, now):
            log.warning("console: login %r blocked after repeated failures", login)
            return self.login_page(query, problem="too many failed attempts; wait 5 minutes", status=429, login=login)
        user = self.auth.users.get(login)
        if user is None or not check_password(password, user.password_hash):
            self.throttle.failed(login, now)
            log.warning("console: failed login for %r", login)
            return self.login_page(query, problem="wrong login or password", status=401, login=login)
        self.throttle.succeeded(login)
        log.info("console: %s logged in (as %s)", login, user.person)
        session = self.auth.sessions.issue(login, now)
        max_age = int(self.auth.sessions.lifetime.total_seconds())
        target = wanted if NEXT_PAGE.match(wanted) else "/"
        return Response(
            303,
            "",
            HTML,
            {"Location": target, "Set-Cookie": cookie(SESSION_COOKIE, session, max_age=max_age, secure=self._secure)},
        )

    def logout(self, who: Who, body: bytes) -> Response:
        if self.auth is None or who.session is None:
            return Response(303, "", HTML, {"Location": "/"})
        if not Sessions.same(_form(body).get("csrf"), self.auth.sessions.csrf(who.session)):
            return self.error(403, "the form has expired or did not come from this console; reload the page", who=who)
        gone = cookie(SESSION_COOKIE, "", max_age=0, secure=self._secure)
        return Response(303, "", HTML, {"Location": "/login", "Set-Cookie": gone})

    # -- helpers ------------------------------------------------------------------------------

    @property
    def _secure(self) -> bool:
        return self.auth.secure_cookie if self.auth else True

    def now(self) -> datetime:
        return self.clock.now()

    def csrf(self, who: Who) -> str:
        return self.auth.sessions.csrf(who.session) if self.auth and who.session else ""

    def page(self, template: str, who: Who, *, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(
            who=who, auth=self.auth is not None, logout_csrf=self.csrf(who), zone=str(self.zone), **context
        )
        return Response(status, html, HTML, {**SECURITY_HEADERS, "Cache-Control": "no-store"})

    def error(self, status: int, message: str, *, who: Who | None = None, status_word: str = "") -> Response:
        viewer = who or Who(None, None, None, False, "")
        word = status_word or {401: "Not logged in", 403: "Forbidden", 404: "Not found", 405: "Not allowed"}.get(
            status, "Cannot do that"
        )
        return self.page("error.html", viewer, status=status, title=word, message=message, code=status)

    def static_file(self, route: str) -> Response:
        name = route.removeprefix("/static/")
        data = self.static.get(name)
        if data is None:
            return self.error(404, "no such file")
        kind = STATIC_TYPES[name[name.rindex(".") :]]
        return Response(200, data, kind, {"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    def _when(self, moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "—" if moment is None else moment.astimezone(self.zone).strftime(fmt)


def _owned(route: str) -> bool:
    return route in ("/", "/login", "/logout", "/rules", "/sources") or route.startswith(("/incidents", "/static/"))


def _static_files() -> dict[str, bytes]:
    """Every file shipped in monitor/web/static, by name (nothing else is ever served)."""
    folder = resources.files("monitor.web") / "static"
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and any(entry.name.endswith(ext) for ext in STATIC_TYPES)
    }


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    try:
        fields = parse_qs(text, max_num_fields=20)
    except ValueError:  # too many fields: not one of our forms
        return {}
    return {key: values[0] for key, values in fields.items()}


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links are links; anything else (javascript:, data:) is shown as text."""
    return url if url and re.match(r"^https?://", url, re.IGNORECASE) else None
