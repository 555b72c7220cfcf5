"""The daemon's configuration file: typed, frozen, validated once at load."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from monitor.config.durations import Duration, format_duration
from monitor.config.paths import default_dir
from monitor.config.validation import Strict, found_expected, validate
from monitor.config.yamlload import load_yaml
from monitor.detect.severity import SeverityName
from monitor.errors import ConfigError, Problem
from monitor.incidents.escalation import EscalationLevel, EscalationWebhook
from monitor.notify.i18n import Lang
from monitor.notify.routing import CHANNEL_PATTERN, SlackRoute
from monitor.sources.mappings import ComplaintsMapping, JsonMapping


def check_timezone(zone: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise found_expected(repr(zone), "an IANA time zone such as Asia/Shanghai or UTC") from None


SourceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
_HOST_OR_NETWORK = re.compile(r"^[A-Za-z0-9_.:\-\[\]]+(/\d{1,3})?$")


class SourceBase(Strict):
    name: SourceName
    interval: Duration = timedelta(minutes=5)
    timeout: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=10_000_000, gt=0)
    expected_silence: Duration | None = Field(
        default=None, description="How long the source may yield nothing before it counts as silent"
    )
    allow_cross_host_redirects: bool = Field(
        default=False, description="Follow redirects to other hosts (default: the same host or its subdomains)"
    )
    allow_addresses: tuple[str, ...] = Field(
        default=(),
        description="Hosts or networks (CIDR) this source may reach although loopback, link-local or private",
    )

    @field_validator("allow_addresses")
    @classmethod
    def _hosts_or_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not _HOST_OR_NETWORK.match(entry.strip()):
                raise ValueError(f"host names or networks such as crm.corp.local or 10.0.0.0/8, found {entry!r}")
        return value


class RssSource(SourceBase):
    type: Literal["rss"]
    url: str


class JsonFeedSource(SourceBase):
    type: Literal["jsonfeed"]
    url: str


class JsonSource(SourceBase):
    type: Literal["json"]
    url: str
    mapping: JsonMapping


class RsshubSource(SourceBase):
    type: Literal["rsshub"]
    instance: str = Field(description="Base URL of the RSSHub instance")
    route: str = Field(pattern=r"^/", description="RSSHub route such as /weibo/keyword/品牌")


class ComplaintsApiSource(SourceBase):
    type: Literal["complaints_api"]
    url: str
    token_env: str | None = Field(default=None, description="Environment variable holding a bearer token")
    interval: Duration = timedelta(minutes=1)
    mode: Literal["records", "counts"] = Field(
        default="records", description="records: one item per complaint; counts: per-category counts per interval"
    )
    since_param: str = Field(default="since", min_length=1, description="Query parameter carrying the cursor")
    mapping: ComplaintsMapping | None = Field(default=None, description="Field paths; None: the default format")


class FileDropSource(SourceBase):
    type: Literal["file_drop"]
    path: str = Field(description="Folder watched for CSV/JSONL files (relative: to the config file's folder)")
    format: Literal["auto", "csv", "jsonl"] = Field(default="auto", description="auto: by file extension")
    interval: Duration = timedelta(minutes=1)


SourceConfig = Annotated[
    RssSource | JsonFeedSource | JsonSource | RsshubSource | ComplaintsApiSource | FileDropSource,
    Field(discriminator="type"),
]


class ScoringConfig(Strict):
    negative_below: float | None = Field(
        default=None, gt=0, lt=1, description="Default negative cut; None = the calibrated default"
    )
    model: str | None = Field(
        default=None,
        description="None = the shipped model; `snownlp` = SnowNLP-exact scores; or the path of a model "
        "written by `crisismon sentiment train` (relative to the config file)",
    )
    workers: int = Field(default=1, ge=0, le=32, description="Scoring processes; 0 scores in the polling thread")

    @field_validator("model")
    @classmethod
    def _usable_model(cls, value: str | None) -> str | None:
        from monitor.sentiment.scorer import model_problem

        problem = model_problem(value)
        if problem is not None:
            raise found_expected(problem, "a model written by `crisismon sentiment train`, or `snownlp`")
        return value


class SlackConfig(Strict):
    channel: str | None = Field(default=None, description="Channel id or name; env SLACK_CHANNEL overrides")
    token_env: str = "SLACK_BOT_TOKEN"
    api_url: str | None = Field(default=None, description="Slack API base URL; env CRISISMON_SLACK_API_URL overrides")
    min_interval: float = Field(default=1.0, ge=0, le=60, description="Seconds between messages to the channel")
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds a Slack API call may take in total")
    indexing_wait: float = Field(
        default=20.0,
        ge=0,
        le=600,
        description="Seconds Slack may take to show a post it was still processing when the call timed out",
    )
    webhook_env: str = Field(
        default="SLACK_WEBHOOK_URL", description="Environment variable of an incoming-webhook URL (no bot token)"
    )
    operations_channel: str | None = Field(
        default=None,
        pattern=CHANNEL_PATTERN,
        description="Channel for admin messages (reloads, sources down/up, delivery failures)",
    )
    routes: tuple[SlackRoute, ...] = Field(default=(), description="Channels by playbook, severity, rule (in order)")


class NotifyConfig(Strict):
    console: bool = True
    slack: SlackConfig = SlackConfig()


class ConsoleUser(Strict):
    """One login of the web console, acting as a person of the roster."""

    login: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", description="What the person types to log in")
    password_hash: str = Field(
        pattern=r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$",
        description="scrypt hash printed by `crisismon passwd`",
    )
    person: str = Field(min_length=1, description="The roster person (name) this login acts as")


class AuthConfig(Strict):
    """Logins for the web console (reading and acting); without it the console is read-only."""

    users: tuple[ConsoleUser, ...] = Field(min_length=1)
    secret_env: str = Field(
        default="CRISISMON_SESSION_SECRET",
        description="Environment variable with the key that signs session cookies; unset: a random key per start",
    )
    session_lifetime: Duration = Field(default=timedelta(hours=12), description="How long a login lasts")
    secure_cookie: bool = Field(default=True, description="Send the cookie over HTTPS only (false: plain-HTTP tests)")
    act_roles: tuple[str, ...] = Field(
        default=(), description="Roster roles that may act (ack, tick, note, resolve); empty: any role"
    )

    @field_validator("act_roles")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        from monitor.config.roles import known_roles

        return known_roles(roles)

    @field_validator("users")
    @classmethod
    def _unique_logins(cls, users: tuple[ConsoleUser, ...]) -> tuple[ConsoleUser, ...]:
        logins = [u.login for u in users]
        dupes = sorted({n for n in logins if logins.count(n) > 1})
        if dupes:
            raise found_expected(f"{', '.join(dupes)} more than once", "each login once")
        return users


class HttpConfig(Strict):
    listen: str | None = Field(
        default=None, pattern=r"^[^:]+:\d+$", description="host:port for the HTTP API; None = no HTTP server"
    )
    token_env: str = Field(default="CRISISMON_API_TOKEN", description="Environment variable holding the API token")
    intake_source: SourceName = Field(default="intake", description="Source name of complaints posted to the intake")
    max_body: int = Field(default=1_000_000, gt=0)
    max_connections: int = Field(default=64, ge=1, le=10_000, description="Connections served at once; more get 503")
    read_timeout: Duration = Field(
        default=timedelta(seconds=10), description="Time a client has to send its headers, and again its body"
    )
    console: bool = Field(default=True, description="Serve the web console on / (docs/console.md)")
    auth: AuthConfig | None = Field(default=None, description="Console logins; None: the console is read-only")


class IncidentsConfig(Strict):
    ack_timeout: Duration = Field(default=timedelta(minutes=15), description="Escalate when not acknowledged by then")
    reminder_every: Duration = Field(default=timedelta(minutes=30), description="Cadence of repeated reminders")
    check_every: Duration = Field(default=timedelta(minutes=1), description="How often SLA timers are checked")
    escalation: dict[SeverityName, EscalationLevel] = Field(
        default_factory=dict, description="Per severity: ack_timeout and chain (others: ack_timeout, roster chain)"
    )
    direct_messages: bool = Field(default=True, description="DM the person escalated to, besides the thread")
    escalation_webhook: EscalationWebhook | None = Field(
        default=None, description="POST generic JSON to a paging tool at each escalation step"
    )


class CommunicationConfig(Strict):
    """Facts the statement templates fill in, and who approves a statement
    (monitor.incidents.kit, monitor.incidents.statements)."""

    company: str = Field(default="我们", min_length=1, max_length=100, description="The company's name in statements")
    hotline: str = Field(default="", max_length=100, description="Customer hotline quoted in statements")
    regions: tuple[str, ...] = Field(default=(), description="Regions served, quoted in statements")
    approvers: tuple[str, ...] = Field(
        default=("crisis_lead", "legal", "spokesperson"), min_length=1, description="Roster roles that must approve"
    )

    @field_validator("approvers")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        from monitor.config.roles import known_roles

        return known_roles(roles)


class AppConfig(Strict):
    database: str = "crisismon.db"
    database_outage_limit: Duration = Field(
        default=timedelta(minutes=5),
        description="After this long without a working database the daemon exits 1 (its supervisor restarts it)",
    )
    rules_dir: str = Field(default_factory=lambda: str(default_dir("rules")))
    playbooks_dir: str = Field(default_factory=lambda: str(default_dir("playbooks")))
    sources: tuple[SourceConfig, ...] = ()
    scoring: ScoringConfig = ScoringConfig()
    notify: NotifyConfig = NotifyConfig()
    roster: str | None = Field(default=None, description="Roster file: people, roles, escalation chain")
    products: str | None = Field(default=None, description="Product catalogue: names and aliases that tag items")
    incidents: IncidentsConfig = IncidentsConfig()
    http: HttpConfig = HttpConfig()
    evaluate_every: Duration = timedelta(minutes=1)
    deliver_every: Duration = timedelta(seconds=5)
    retention: Duration | None = Field(
        default=None,
        description="How long items are kept (then pruned, with their hits and finished outbox rows; incidents "
        "stay); default: the longest rule lookback plus a day, at least 30 days",
    )
    timezone: str = Field(
        default="UTC",
        description="Time zone of every time printed outside Slack's own date tokens (e.g. Asia/Shanghai)",
    )
    locale: Literal["zh-CN", "en"] = Field(
        default="en", description="Language of labels, buttons, headings and status words (Slack, modals, console)"
    )
    bilingual: bool = Field(default=False, description="Show both sides of bilingual playbook texts (中文 / English)")
    communication: CommunicationConfig = CommunicationConfig()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, zone: str) -> str:
        check_timezone(zone)
        return zone

    @field_validator("retention")
    @classmethod
    def _retention_long_enough(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(days=1):
            raise found_expected(format_duration(value), "a retention of at least 1d, e.g. retention: 45d")
        return value

    @model_validator(mode="after")
    def _unique_source_names(self) -> AppConfig:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"unique source names ({', '.join(dupes)} repeat)")
        return self

    def lang(self) -> Lang:
        """Locale, time zone and bilingual setting, for whatever prints text for people."""
        return Lang(self.locale, self.timezone, self.bilingual)

    def source_names(self) -> set[str]:
        names = {s.name for s in self.sources}
        if self.http.listen:
            names.add(self.http.intake_source)
        return names


def load_config(path: Path | None) -> AppConfig:
    """Load ``path`` (or the embedded defaults when None); raise ConfigError with every problem.

    Relative paths in the file are taken relative to the file's folder.
    """
    if path is None:
        return AppConfig()
    located = load_yaml(path)
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, "(document)", type(data).__name__, "a mapping of settings")])
    config, problems = validate(AppConfig, located, _resolve_paths(data, path.parent))
    if config is None:
        raise ConfigError(problems)
    problems = _console_people(config, located) + _runtime_problems(config, located) + _route_problems(config, located)
    if problems:
        raise ConfigError(problems)
    return config


def _runtime_problems(config: AppConfig, located: Any) -> list[Problem]:
    """What `run` needs beyond the shapes: a usable port, a database driver (the sentiment model is
    checked where ``scoring.model`` is validated)."""
    problems: list[Problem] = []

    def problem(loc: tuple[str, ...], found: str, expected: str) -> None:
        problems.append(Problem(located.path, located.line_of(loc), ".".join(loc), found, expected))

    if config.http.listen:
        port = int(config.http.listen.rsplit(":", 1)[1])
        if port > 65535:
            problem(("http", "listen"), config.http.listen, "a port from 0 to 65535")
    if config.database.startswith(("postgresql://", "postgres://")):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            problem(
                ("database",), "a PostgreSQL URL", "PostgreSQL support installed: pip install 'crisismon[postgres]'"
            )
    return problems


def _route_problems(config: AppConfig, located: Any) -> list[Problem]:
    """Slack routes naming playbooks or rules that are not there."""
    if not config.notify.slack.routes:
        return []
    from monitor.notify.routing import known_names, route_problems

    playbooks, rules = known_names(config)
    where = ("notify", "slack", "routes")
    return route_problems(
        config.notify.slack.routes,
        playbooks,
        rules,
        lambda i, f: (located.path, located.line_of((*where, i, f)), f"notify.slack.routes.{i}.{f}"),
    )


def _console_people(config: AppConfig, located: Any) -> list[Problem]:
    """Every console login acts as a person of the roster (roster problems are reported elsewhere)."""
    auth = config.http.auth
    if auth is None:
        return []
    where = ("http", "auth", "users")
    if not config.roster:
        line = located.line_of(("http", "auth"))
        return [Problem(located.path, line, "http.auth", "no roster", "a roster file naming the console's people")]
    from monitor.config.roster import load_roster

    try:
        names = {p.name for p in load_roster(Path(config.roster)).people}
    except ConfigError:
        return []
    return [
        Problem(
            located.path,
            located.line_of((*where, i, "person")),
            f"http.auth.users.{i}.person",
            repr(user.person),
            f"a person of the roster ({', '.join(sorted(names)) or 'it has none'})",
        )
        for i, user in enumerate(auth.users)
        if user.person not in names
    ]


def _resolve_paths(data: dict[str, object], base: Path) -> dict[str, object]:
    resolved = dict(data)
    for key in ("rules_dir", "playbooks_dir", "roster", "products"):
        value = resolved.get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            resolved[key] = str(base / value)
    sources = resolved.get("sources")
    if isinstance(sources, list):  # file_drop folders, like the paths above
        resolved["sources"] = [_resolve_source_path(s, base) for s in sources]
    scoring = resolved.get("scoring")
    if isinstance(scoring, dict):  # a model path, like the paths above ("snownlp" is not a path)
        model = scoring.get("model")
        if isinstance(model, str) and model.strip().lower() != "snownlp" and not Path(model).is_absolute():
            resolved["scoring"] = {**scoring, "model": str(base / model)}
    db = resolved.get("database")
    if isinstance(db, str) and "://" not in db and db != ":memory:" and not Path(db).is_absolute():
        resolved["database"] = str(base / db)
    return resolved


def _resolve_source_path(source: object, base: Path) -> object:
    if isinstance(source, dict) and source.get("type") == "file_drop":
        folder = source.get("path")
        if isinstance(folder, str) and not Path(folder).is_absolute():
            return {**source, "path": str(base / folder)}
    return source


def database_url(config: AppConfig, override: str | None) -> str:
    """``--db`` beats ``CRISISMON_DB`` beats the config file."""
    return override or os.environ.get("CRISISMON_DB") or config.database
