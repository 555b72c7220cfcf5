"""Composition root: build the concrete objects from the config. No logic lives here."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from monitor.clock import Clock
from monitor.config.catalogue import load_catalogue
from monitor.config.current import CurrentDefinitions
from monitor.config.loading import Definitions
from monitor.config.roster import Roster, load_roster
from monitor.config.rules import Rule
from monitor.config.settings import AppConfig, ComplaintsApiSource, FileDropSource, SourceConfig
from monitor.detect.evaluator import Evaluator
from monitor.detect.hits import HitBook
from monitor.detect.rebuilds import Rebuilds
from monitor.incidents.escalation import Escalator
from monitor.incidents.service import ChartMaker, IncidentService
from monitor.incidents.silences import Silencer
from monitor.incidents.sla import SlaWatch
from monitor.models import Incident
from monitor.notify.channels import route_slack, sla_policy
from monitor.notify.console import ConsoleNotifier
from monitor.notify.i18n import ENGLISH, Lang
from monitor.notify.render import Renderer, SlackRenderer, TextRenderer
from monitor.notify.routing import DropReporter
from monitor.protocols import Notifier, Scorer, Source
from monitor.runtime.engine import Engine
from monitor.runtime.health import PollBook, SourceMonitor
from monitor.runtime.ingest import Ingestor
from monitor.runtime.leases import LeaseKeeper, LeaseTimes, make_node_id
from monitor.runtime.metrics import Metrics, alert_latency
from monitor.runtime.outbox import Dispatcher
from monitor.sources.complaints import ComplaintsApiSource as ComplaintsSource
from monitor.sources.outbound import AddressPolicy, Outbound
from monitor.store import DatabaseUnavailable, SqlStore
from monitor.text.classify import KeywordClassifier

log = logging.getLogger(__name__)


@dataclass
class Wiring:
    """What ``build_engine`` made, so the caller can close it."""

    engine: Engine
    closers: list[Any] = field(default_factory=list)
    renderers: Mapping[str, Renderer] = field(default_factory=dict)
    health: SourceMonitor | None = None  # its check_now is the daemon's "source health" job
    outbound: Outbound | None = None

    def abort(self) -> None:
        """The daemon is stopping: fail the outbound requests in flight now."""
        if self.outbound is not None:
            self.outbound.abort()

    def close(self) -> None:
        for thing in reversed(self.closers):
            thing.close()


def negative_cut(config: AppConfig) -> float:
    if config.scoring.negative_below is not None:
        return config.scoring.negative_below
    from monitor.sentiment import negative_cut_for

    return negative_cut_for(config.scoring.model)


def build_scorer(config: AppConfig) -> Scorer:
    from monitor.sentiment import ScoringPool, SentimentScorer

    if config.scoring.workers > 0:
        return ScoringPool(config.scoring.model, config.scoring.workers)
    return SentimentScorer(config.scoring.model)


def build_sources(
    configs: tuple[SourceConfig, ...], client: httpx.Client | None = None, *, outbound: Outbound | None = None
) -> dict[str, Source]:
    """The sources of the config. Each HTTP source gets its own client from ``outbound``
    (total deadline, address policy); ``client``, when given, serves them all instead (tests)."""
    from monitor.sources.feeds import FeedSource, rsshub_url
    from monitor.sources.http import FetchPolicy, HttpFetcher

    outbound = outbound or Outbound()
    sources: dict[str, Source] = {}
    for cfg in configs:
        if isinstance(cfg, FileDropSource):
            from monitor.sources.filedrop import FileDropSource as FileDrop

            sources[cfg.name] = FileDrop(cfg.name, Path(cfg.path), format=cfg.format, max_bytes=cfg.max_bytes)
            continue
        url = rsshub_url(cfg.instance, cfg.route) if cfg.type == "rsshub" else cfg.url
        timeout = cfg.timeout.total_seconds()
        http = client or outbound.client(
            AddressPolicy(_host(url), cfg.allow_addresses),
            timeout * 2,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        if isinstance(cfg, ComplaintsApiSource):
            sources[cfg.name] = build_complaints(cfg, http)
            continue
        policy = FetchPolicy(
            connect_timeout=min(timeout, 10.0),
            read_timeout=timeout,
            deadline=timeout * 2,
            max_bytes=cfg.max_bytes,
            allow_cross_host_redirects=cfg.allow_cross_host_redirects,
        )
        fetcher = HttpFetcher(http, policy)
        if cfg.type == "rsshub":
            sources[cfg.name] = FeedSource(cfg.name, url, fetcher, "auto")
        elif cfg.type == "json":
            sources[cfg.name] = FeedSource(cfg.name, cfg.url, fetcher, kind="json", mapping=cfg.mapping)
        else:
            sources[cfg.name] = FeedSource(cfg.name, cfg.url, fetcher, kind=cfg.type)
    return sources


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, ValueError):
        return ""  # the fetch reports the invalid URL


def build_complaints(cfg: ComplaintsApiSource, client: httpx.Client) -> Source:
    token = os.environ.get(cfg.token_env) if cfg.token_env else None
    return ComplaintsSource(
        cfg.name, cfg.url, client, token=token, mode=cfg.mode, mapping=cfg.mapping, since_param=cfg.since_param
    )


def build_health(
    config: AppConfig, store: SqlStore, clock: Clock, sources: Mapping[str, Source], renderers: Mapping[str, Renderer]
) -> SourceMonitor:
    silence = {s.name: s.expected_silence for s in config.sources}
    return SourceMonitor(store, {name: silence.get(name) for name in sources}, clock, renderers)


def chart_maker(store: SqlStore, cut: float, zone: str = "UTC") -> ChartMaker:
    """Draws the alert chart; None when matplotlib is not installed (crisismon[charts])."""

    def make(rule: Rule, incident: Incident, now: datetime) -> bytes | None:
        from monitor.incidents.review import metric_chart
        from monitor.notify.charts import ChartsUnavailable

        try:
            return metric_chart(store, rule, incident, cut, now, zone)
        except ChartsUnavailable:
            return None

    return make


def all_renderers(roster: Roster, lang: Lang = ENGLISH) -> dict[str, Renderer]:
    """A renderer for every kind of destination (operations post wherever the alert went)."""
    return {"console": TextRenderer(lang), "slack": SlackRenderer(roster.mentions(), lang)}


def build_notifiers(
    config: AppConfig, env: Mapping[str, str], roster: Roster | None = None
) -> tuple[dict[str, Notifier], dict[str, Renderer]]:
    notifiers: dict[str, Notifier] = {}
    renderers: dict[str, Renderer] = {}
    if config.notify.console:
        notifiers["console"] = ConsoleNotifier()
        renderers["console"] = TextRenderer(config.lang())
    token = env.get(config.notify.slack.token_env)
    channel = env.get("SLACK_CHANNEL") or config.notify.slack.channel
    if token and channel:
        from monitor.slack.client import SlackNotifier, make_web_client

        base_url = env.get("CRISISMON_SLACK_API_URL") or config.notify.slack.api_url
        slack = config.notify.slack
        notifiers["slack"] = SlackNotifier(
            make_web_client(token, base_url=base_url, timeout=slack.timeout, env=env),
            channel,
            min_interval=slack.min_interval,
            indexing_wait=slack.indexing_wait,
        )
        renderers["slack"] = SlackRenderer((roster or Roster()).mentions(), config.lang())
    elif token or channel:
        log.warning("Slack is off: set both %s and SLACK_CHANNEL", config.notify.slack.token_env)
    from monitor.notify.channels import extra_notifiers

    extra_notifiers(config, env, roster, notifiers, renderers)
    return notifiers, renderers


def build_engine(
    config: AppConfig,
    definitions: Definitions,
    store: SqlStore,
    clock: Clock,
    *,
    scorer: Scorer | None = None,
    sources: Mapping[str, Source] | None = None,
    notifiers: Mapping[str, Notifier] | None = None,
    renderers: Mapping[str, Renderer] | None = None,
    env: Mapping[str, str] | None = None,
    node_id: str | None = None,
    intake_store: SqlStore | None = None,
) -> Wiring:
    """Wire an engine; any part can be passed in (tests, the demo).

    The engine shares the work with other daemons on the same database through leases;
    ``node_id`` names this daemon (default: host, pid and a random part). ``intake_store``:
    a second connection to the same database, for what polls and the intake store (items,
    their hits, the sources' bookkeeping), so that they never wait for an evaluation holding
    ``store`` (PostgreSQL; SQLite has one writer anyway). The caller closes it.
    """
    metrics = Metrics()
    roster = load_roster(Path(config.roster) if config.roster else None)
    wiring_closers: list[Any] = []
    outbound = Outbound()
    wiring_closers.append(outbound)
    if sources is None:
        sources = build_sources(config.sources, outbound=outbound)
    if notifiers is None or renderers is None:
        notifiers, renderers = build_notifiers(config, os.environ if env is None else env, roster)
    if scorer is None:
        scorer = build_scorer(config)
        if hasattr(scorer, "close"):
            wiring_closers.append(scorer)
    leases = build_leases(config, store, node_id)
    wiring_closers.insert(0, leases)  # closed last: gives the leases up on a clean stop
    health = build_health(config, store, clock, sources, renderers)
    health.gate = functools.partial(leases.acquire, "health")
    current = CurrentDefinitions(definitions, roster, config)
    hits = HitBook(store, lambda: current.rules.rules, negative_cut(config))  # each rule's hits, kept at ingest
    intake = intake_store or store
    engine = Engine(
        clock=clock,
        sources=sources,
        ingestor=Ingestor(
            intake,
            scorer,
            KeywordClassifier.default(),
            metrics,
            catalogue=load_catalogue(Path(config.products) if config.products else None),
            negative_cut=negative_cut(config),
        ),
        evaluator=Evaluator(
            store,
            negative_cut(config),
            sources_down=health.down_sources_now,
            timed=metrics.observe_evaluation,
            hits=hits,
            saved=store,  # running anomaly detectors carry on after a restart
            rebuilds=Rebuilds(hits),  # an edited rule is rebuilt while the others are evaluated
        ),
        incidents=IncidentService(
            store,
            current.playbooks,
            renderers,
            chart_maker(store, negative_cut(config), config.timezone),
            opened=alert_latency(store, metrics),
            lang=config.lang(),
        ),
        dispatcher=Dispatcher(
            store,
            notifiers,
            metrics,
            leases,
            clock=clock,
            silencer=Silencer(store),
            dropped=DropReporter(store, lambda: list(renderers or {})),
        ),
        definitions=current,
        metrics=metrics,
        sla=SlaWatch(
            store,
            renderers,
            current.playbooks,
            lambda: current.roster,
            sla_policy(config.incidents),
            Escalator(store, notifiers, direct_messages=config.incidents.direct_messages, lang=config.lang()),
        ),
        leases=leases,
        book=PollBook(intake, {s.name: s.interval for s in config.sources}),
        evaluate_every=config.evaluate_every,
    )
    engine.ingestor.hits = hits if intake is store else HitBook(intake, hits.rules, hits.cut)
    health.rules_for = engine.rules_fed_by
    route_slack(notifiers, store, config)
    engine.sla.lang = config.lang()
    metrics.declare(sources=sources, destinations=notifiers, rules=[r.id for r in definitions.rules.rules])
    return Wiring(engine, wiring_closers, all_renderers(roster, config.lang()), health, outbound)


def build_leases(config: AppConfig, store: SqlStore, node_id: str | None) -> LeaseKeeper:
    times = LeaseTimes(
        sources={s.name: s.interval for s in config.sources},
        evaluate=config.evaluate_every,
        deliver=config.deliver_every,
        sla=config.incidents.check_every,
    )
    keeper = LeaseKeeper(store, node_id or make_node_id(), times)
    keeper.reap_dead_local()
    log.info("node %s", keeper.node_id)
    return keeper


def build_api(
    config: AppConfig, wiring: Wiring, store: SqlStore, clock: Clock, env: Mapping[str, str], silences: Any = None
) -> Any:
    """The HTTP API server and the Slack Socket Mode listener, started where configured.

    The HTTP server runs when ``http.listen`` is set; Socket Mode when ``SLACK_APP_TOKEN`` is.
    Returns the HTTP server (None without one).
    """
    app_token = env.get("SLACK_APP_TOKEN")
    if not config.http.listen and not app_token:
        return None
    from monitor.http.api import Api, ApiServer
    from monitor.incidents.ops import IncidentOps
    from monitor.runtime.readiness import watch_daemon

    token = env.get(config.http.token_env)
    if config.http.listen and not token:
        log.warning("the HTTP API refuses every /v1 request: set %s", config.http.token_env)
    engine = wiring.engine
    ops = IncidentOps(store, wiring.renderers, engine.current.playbooks, lang=config.lang())
    api = Api(
        store=store,
        ops=ops,
        ingestor=engine.ingestor,
        metrics=engine.metrics,
        clock=clock,
        token=token,
        slack_secret=env.get("SLACK_SIGNING_SECRET"),
        intake_source=config.http.intake_source,
        max_body=config.http.max_body,
        slack_app=build_slack(
            config, ops, engine.current.playbooks, lambda: engine.current.roster, clock, env, silences
        ),
    )
    watch_daemon(api, store, clock, engine.metrics, getattr(wiring, "health", None))
    if config.http.console:
        from monitor.web import build_console

        api.console = build_console(config, engine, store, clock, api.ops, env, cut=negative_cut(config))
    if app_token:
        start_socket_mode(app_token, api, wiring, env)
    if not config.http.listen:
        return None
    from monitor.http.server import Limits

    host, port = config.http.listen.rsplit(":", 1)
    seconds = config.http.read_timeout.total_seconds()
    limits = Limits(
        header_timeout=seconds,
        body_timeout=seconds,
        max_body=config.http.max_body,
        max_connections=config.http.max_connections,
    )
    try:
        server = ApiServer(api, host, int(port), limits).start()
    except OSError as exc:  # one line naming the address, not "[Errno 98] Address already in use"
        raise OSError(f"cannot listen on {config.http.listen} (http.listen): {exc.strerror or exc}") from None
    log.info("HTTP API on %s", server.url)
    wiring.closers.append(server)
    return server


def build_slack(
    config: AppConfig,
    ops: Any,
    playbooks: Mapping[str, Any],
    roster: Callable[[], Roster],
    clock: Clock,
    env: Mapping[str, str],
    silences: Any = None,
) -> Any:
    """The Slack app (buttons, modals, ``/crisis``). ``silences`` is a :class:`monitor.slack.app.Silences`
    (default: the daemon's, :mod:`monitor.incidents.silences` over the ops store)."""
    from monitor.incidents.kit import Facts
    from monitor.slack.app import StoreSilences, build_slack_app

    token = env.get(config.notify.slack.token_env)
    client = None
    if token:
        from monitor.slack.client import make_web_client

        base_url = env.get("CRISISMON_SLACK_API_URL") or config.notify.slack.api_url
        client = make_web_client(token, base_url=base_url, timeout=config.notify.slack.timeout, env=env)
    talk = config.communication
    return build_slack_app(
        ops=ops,
        playbooks=playbooks,
        roster=roster,
        clock=clock,
        lang=config.lang(),
        facts=Facts(talk.company, talk.hotline, talk.regions),
        approvers=talk.approvers,
        client=client,
        silences=silences if silences is not None else StoreSilences(ops.store),
    )


def start_socket_mode(app_token: str, api: Any, wiring: Wiring, env: Mapping[str, str]) -> None:
    """Slack interactions over Socket Mode (no public URL needed); failures are logged."""
    from monitor.slack.interactions import InteractionError, action_from_payload
    from monitor.slack.socket_mode import SocketModeListener, SocketModeUnavailable

    def handle(payload: dict[str, Any]) -> Any:
        try:
            if api.slack_app is not None:
                return api.slack_app.interaction(payload)
            refusal = api.perform(action_from_payload(payload))
        except InteractionError as exc:
            log.warning("ignored a Slack interaction: %s", exc)
            return None
        except DatabaseUnavailable as exc:
            log.warning("could not carry out a Slack interaction: %s", exc)
            return None
        if refusal:
            log.info("Slack action refused: %s", refusal)
        return None

    listener = SocketModeListener(app_token, handle, env=env)
    try:
        listener.start()
    except SocketModeUnavailable as exc:
        log.error("Slack Socket Mode is off: %s", exc)
        return
    wiring.closers.append(_Stopper(listener.stop))
    log.info("Slack Socket Mode connected")


@dataclass
class _Stopper:
    stop: Callable[[], None]

    def close(self) -> None:
        self.stop()
