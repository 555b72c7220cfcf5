"""Composition root: build the concrete objects from the config. No logic lives here."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from monitor.classify import KeywordClassifier
from monitor.clock import Clock
from monitor.config import AppConfig, ComplaintsApiSource, SourceConfig
from monitor.engine import Engine
from monitor.evaluator import Evaluator
from monitor.incidents import IncidentService
from monitor.ingest import Ingestor
from monitor.loading import Definitions
from monitor.metrics import Metrics
from monitor.notify.console import ConsoleNotifier
from monitor.notify.render import Renderer, SlackRenderer, TextRenderer
from monitor.outbox import Dispatcher
from monitor.protocols import Notifier, Scorer, Source
from monitor.roster import Roster, load_roster
from monitor.sla import SlaPolicy, SlaWatch
from monitor.sources.complaints import ComplaintsApiSource as ComplaintsSource
from monitor.store import SqlStore

log = logging.getLogger(__name__)


@dataclass
class Wiring:
    """What ``build_engine`` made, so the caller can close it."""

    engine: Engine
    closers: list[Any] = field(default_factory=list)
    renderers: Mapping[str, Renderer] = field(default_factory=dict)

    def close(self) -> None:
        for thing in reversed(self.closers):
            thing.close()


def negative_cut(config: AppConfig) -> float:
    if config.scoring.negative_below is not None:
        return config.scoring.negative_below
    from monitor.sentiment import DEFAULT_NEGATIVE_CUT

    return DEFAULT_NEGATIVE_CUT


def build_scorer(config: AppConfig) -> Scorer:
    from monitor.sentiment import ScoringPool, SentimentScorer

    if config.scoring.workers > 0:
        return ScoringPool(config.scoring.model, config.scoring.workers)
    return SentimentScorer(config.scoring.model)


def build_sources(configs: tuple[SourceConfig, ...], client: httpx.Client) -> dict[str, Source]:
    from monitor.sources.feeds import FeedSource, JsonMapping
    from monitor.sources.http import FetchPolicy, HttpFetcher

    sources: dict[str, Source] = {}
    for cfg in configs:
        if isinstance(cfg, ComplaintsApiSource):
            token = os.environ.get(cfg.token_env) if cfg.token_env else None
            sources[cfg.name] = ComplaintsSource(cfg.name, cfg.url, client, token=token)
            continue
        policy = FetchPolicy(
            connect_timeout=min(cfg.timeout.total_seconds(), 10.0),
            read_timeout=cfg.timeout.total_seconds(),
            deadline=cfg.timeout.total_seconds() * 2,
            max_bytes=cfg.max_bytes,
        )
        fetcher = HttpFetcher(client, policy)
        if cfg.type == "rsshub":
            sources[cfg.name] = FeedSource.rsshub(cfg.name, cfg.instance, cfg.route, fetcher)
        elif cfg.type == "json":
            mapping = JsonMapping(**cfg.mapping.model_dump())
            sources[cfg.name] = FeedSource(cfg.name, cfg.url, fetcher, kind="json", mapping=mapping)
        else:
            sources[cfg.name] = FeedSource(cfg.name, cfg.url, fetcher, kind=cfg.type)
    return sources


def all_renderers(roster: Roster) -> dict[str, Renderer]:
    """A renderer for every kind of destination (operations post wherever the alert went)."""
    return {"console": TextRenderer(), "slack": SlackRenderer(roster.mentions())}


def build_notifiers(
    config: AppConfig, env: Mapping[str, str], roster: Roster | None = None
) -> tuple[dict[str, Notifier], dict[str, Renderer]]:
    notifiers: dict[str, Notifier] = {}
    renderers: dict[str, Renderer] = {}
    if config.notify.console:
        notifiers["console"] = ConsoleNotifier()
        renderers["console"] = TextRenderer()
    token = env.get(config.notify.slack.token_env)
    channel = env.get("SLACK_CHANNEL") or config.notify.slack.channel
    if token and channel:
        from monitor.notify.slack import SlackNotifier, make_web_client

        base_url = env.get("CRISISMON_SLACK_API_URL") or config.notify.slack.api_url
        notifiers["slack"] = SlackNotifier(make_web_client(token, base_url=base_url, env=env), channel)
        renderers["slack"] = SlackRenderer((roster or Roster()).mentions())
    elif token or channel:
        log.warning("Slack is off: set both %s and SLACK_CHANNEL", config.notify.slack.token_env)
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
) -> Wiring:
    """Wire an engine; any part can be passed in (tests, the demo)."""
    metrics = Metrics()
    roster = load_roster(Path(config.roster) if config.roster else None)
    wiring_closers: list[Any] = []
    if sources is None:
        client = httpx.Client(follow_redirects=False)
        wiring_closers.append(client)
        sources = build_sources(config.sources, client)
    if notifiers is None or renderers is None:
        notifiers, renderers = build_notifiers(config, os.environ if env is None else env, roster)
    if scorer is None:
        scorer = build_scorer(config)
        if hasattr(scorer, "close"):
            wiring_closers.append(scorer)
    engine = Engine(
        clock=clock,
        sources=sources,
        ingestor=Ingestor(store, scorer, KeywordClassifier.default(), metrics),
        evaluator=Evaluator(store, negative_cut(config)),
        incidents=IncidentService(store, definitions.playbooks, renderers),
        dispatcher=Dispatcher(store, notifiers, metrics),
        definitions=definitions,
        metrics=metrics,
        sla=SlaWatch(
            store,
            renderers,
            definitions.playbooks,
            roster,
            SlaPolicy(config.incidents.ack_timeout, config.incidents.reminder_every),
        ),
    )
    return Wiring(engine, wiring_closers, all_renderers(roster))


def build_api(config: AppConfig, wiring: Wiring, store: SqlStore, clock: Clock, env: Mapping[str, str]) -> Any:
    """The HTTP API server, started; None when ``http.listen`` is not set."""
    if not config.http.listen:
        return None
    from monitor.api import Api, ApiServer
    from monitor.ops import IncidentOps

    token = env.get(config.http.token_env)
    if not token:
        log.warning("the HTTP API refuses every /v1 request: set %s", config.http.token_env)
    engine = wiring.engine
    api = Api(
        store=store,
        ops=IncidentOps(store, wiring.renderers, engine.definitions.playbooks),
        ingestor=engine.ingestor,
        metrics=engine.metrics,
        clock=clock,
        token=token,
        slack_secret=env.get("SLACK_SIGNING_SECRET"),
        intake_source=config.http.intake_source,
        max_body=config.http.max_body,
    )
    host, port = config.http.listen.rsplit(":", 1)
    server = ApiServer(api, host, int(port)).start()
    log.info("HTTP API on %s", server.url)
    wiring.closers.append(server)
    return server
