"""Apply a reloaded config to a running daemon: sources, roster, routing, timers.

A reload (``monitor.config.reload``) validates the new config, rules, playbooks and roster as a
whole first; only then does :meth:`LiveDaemon.prepare` build what the new config needs
(new source objects: a failure there refuses the reload too) and :meth:`Plan.apply` swap it
in. What cannot change without a restart (the database, the HTTP server, scoring, the
console's zone, adding or removing a destination) is named, and the rest is applied.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.config.roster import Roster
from monitor.config.settings import AppConfig, SourceConfig
from monitor.notify.render import SlackRenderer
from monitor.protocols import Source

log = logging.getLogger(__name__)

RESTART_ONLY = ("database", "http", "scoring", "timezone", "locale", "bilingual", "communication")


@dataclass
class LiveDaemon:
    """The running parts a reload changes in place (the scheduler is set once it exists)."""

    engine: Any  # monitor.runtime.engine.Engine
    build_sources: Callable[[tuple[SourceConfig, ...]], dict[str, Source]]
    health: Any = None  # monitor.runtime.health.SourceMonitor
    renderers: Iterable[Mapping[str, Any]] = ()
    scheduler: Any = None
    running: Any = None  # monitor.runtime.scheduler.Running: jobs in progress, for a bounded stop
    console: Any = None  # monitor.web.Console
    env: Mapping[str, str] = field(default_factory=dict)
    jitter: float = 0.1

    def prepare(self, old: AppConfig, new: AppConfig, roster: Roster) -> Plan:
        """Everything the new config needs, built but not yet swapped in (may raise)."""
        before = {s.name: s for s in old.sources}
        after = {s.name: s for s in new.sources}
        removed = sorted(set(before) - set(after))
        changed = [s for name, s in after.items() if name not in before or _differs(before[name], s)]
        built = self.build_sources(tuple(changed)) if changed else {}
        return Plan(self, old, new, roster, built, removed)


@dataclass
class Plan:
    live: LiveDaemon
    old: AppConfig
    new: AppConfig
    roster: Roster
    built: dict[str, Source]
    removed: list[str]

    def apply(self) -> list[str]:
        """Swap the new parts in; returns what still needs a restart (one line each)."""
        self._sources()
        self._roster()
        self._routing()
        self._timers()
        return [
            f"{key} changed: restart the daemon to apply it"
            for key in RESTART_ONLY
            if getattr(self.old, key) != getattr(self.new, key)
        ] + self._destinations()

    def summary(self) -> str:
        added = sorted(n for n in self.built if n not in {s.name for s in self.old.sources})
        rebuilt = sorted(n for n in self.built if n not in added)
        parts = [f"{len(self.new.sources)} source(s)"]
        for word, names in (("added", added), ("changed", rebuilt), ("removed", self.removed)):
            if names:
                parts.append(f"{word} {', '.join(names)}")
        parts.append(f"roster of {len(self.roster.people)}")
        return "; ".join(parts)

    def _sources(self) -> None:
        engine, scheduler = self.live.engine, self.live.scheduler
        intervals = {s.name: s.interval for s in self.new.sources}
        for name in self.removed:
            if scheduler is not None and scheduler.get_job(f"poll:{name}") is not None:
                scheduler.remove_job(f"poll:{name}")
            engine.sources.pop(name, None)
        for name, source in self.built.items():
            engine.sources[name] = source
            if engine.book is not None:
                engine.book.forget(name)  # the new object restores the saved state at its first poll
        if engine.book is not None:
            engine.book.intervals = dict(intervals)
        if engine.leases is not None:
            engine.leases.times = dataclasses.replace(engine.leases.times, sources=dict(intervals))
        if self.live.health is not None:
            self.live.health.watched = {s.name: s.expected_silence for s in self.new.sources}
        engine.metrics.declare(sources=list(self.built))
        if scheduler is not None:
            self._schedule(scheduler, intervals)

    def _schedule(self, scheduler: Any, intervals: Mapping[str, Any]) -> None:
        from monitor.runtime.scheduler import guarded

        old = {s.name: s.interval for s in self.old.sources}
        for name, interval in intervals.items():
            seconds = interval.total_seconds()
            if name in self.built and scheduler.get_job(f"poll:{name}") is not None:
                scheduler.remove_job(f"poll:{name}")
            elif name not in self.built and old.get(name) == interval:
                continue
            elif scheduler.get_job(f"poll:{name}") is not None:
                scheduler.remove_job(f"poll:{name}")
            scheduler.add_job(
                guarded(f"poll:{name}", functools.partial(self.live.engine.poll, name), self.live.running),
                "interval",
                seconds=seconds,
                jitter=max(seconds * self.live.jitter, 0) or None,
                id=f"poll:{name}",
            )

    def _roster(self) -> None:
        engine = self.live.engine  # the roster itself is swapped with the definitions (monitor.config.current)
        mentions = self.roster.mentions()
        holders = [engine.incidents.renderers, engine.sla.renderers, *self.live.renderers]
        if self.live.health is not None:
            holders.append(self.live.health.renderers)
        for renderers in holders:
            for renderer in renderers.values():
                if isinstance(renderer, SlackRenderer):
                    renderer.mentions = dict(mentions)

    def _routing(self) -> None:
        slack = self.live.engine.dispatcher.notifiers.get("slack")
        if slack is None:
            return
        channel = self.live.env.get("SLACK_CHANNEL") or self.new.notify.slack.channel
        if channel and hasattr(slack, "set_channel"):
            slack.set_channel(channel, self.new.notify.slack.min_interval)
        if getattr(slack, "route", None) is not None:
            slack.route.config = self.new.notify.slack

    def _destinations(self) -> list[str]:
        old, new = self.old.notify, self.new.notify
        notes = []
        if old.console != new.console:
            notes.append("notify.console changed: restart the daemon to apply it")
        if (old.slack.token_env, old.slack.api_url, old.slack.webhook_env) != (
            new.slack.token_env,
            new.slack.api_url,
            new.slack.webhook_env,
        ):
            notes.append("notify.slack token or API URL changed: restart the daemon to apply it")
        return notes

    def _timers(self) -> None:
        from monitor.notify.channels import sla_policy

        engine, scheduler = self.live.engine, self.live.scheduler
        incidents = self.new.incidents
        engine.sla.policy = sla_policy(incidents)
        if scheduler is None:
            return
        for job, old, new in (
            ("evaluate", self.old.evaluate_every, self.new.evaluate_every),
            ("deliver", self.old.deliver_every, self.new.deliver_every),
            ("sla", self.old.incidents.check_every, incidents.check_every),
        ):
            if old != new and scheduler.get_job(job) is not None:
                scheduler.reschedule_job(job, trigger="interval", seconds=new.total_seconds())


def _differs(a: SourceConfig, b: SourceConfig) -> bool:
    return bool(a.model_dump() != b.model_dump())
