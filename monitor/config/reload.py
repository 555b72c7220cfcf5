"""Hot reload: swap in a new config, rule and playbook set, roster and sources only when all of it is valid.

SIGHUP, or a change to any watched file (the config file, the roster, the rule and playbook
files), validates everything as `crisismon check` would; a problem keeps the running set
and is posted to every destination (the operations channel). With a ``LiveDaemon``
(``monitor.runtime.live``), sources, roster, routing and timers follow the new config too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from monitor.clock import Clock
from monitor.config.loading import Definitions, load_definitions
from monitor.config.roster import load_roster
from monitor.config.settings import AppConfig, load_config
from monitor.errors import ConfigError
from monitor.incidents.announce import OutboxWriter
from monitor.notify.render import Renderer
from monitor.runtime.engine import Engine
from monitor.runtime.live import LiveDaemon

log = logging.getLogger(__name__)

RELOAD_CHECK = timedelta(seconds=5)


def fingerprint(config: AppConfig, config_path: Path | None = None) -> tuple[tuple[str, int, int], ...]:
    """Name, size and mtime of every watched file: changes when any file does."""
    entries = []
    for path in (config_path, Path(config.roster) if config.roster else None):
        if path is not None and path.is_file():
            stat = path.stat()
            entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    for folder in (Path(config.rules_dir), Path(config.playbooks_dir)):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix in (".yaml", ".yml"):
                    stat = path.stat()
                    entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class Reloader:
    def __init__(
        self,
        engine: Engine,
        config: AppConfig,
        store: OutboxWriter,
        renderers: Mapping[str, Renderer],
        clock: Clock,
        load: Callable[[AppConfig], Definitions] = load_definitions,
        *,
        config_path: Path | None = None,
        live: LiveDaemon | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.store = store
        self.renderers = renderers
        self.clock = clock
        self.load = load
        self.config_path = config_path
        self.live = live
        self._seen = fingerprint(config, config_path)

    def check_files(self) -> bool | None:
        """Reload when a file changed; None when nothing changed."""
        current = fingerprint(self.config, self.config_path)
        if current == self._seen:
            return None
        self._seen = current
        return self.reload()

    def reload(self) -> bool:
        """Validate and swap; on any problem keep the running set and say why. True if swapped."""
        try:
            config = load_config(self.config_path) if self.config_path else self.config
            definitions = self.load(config)
            roster = load_roster(Path(config.roster) if config.roster else None)
            plan = self.live.prepare(self.config, config, roster) if self.live else None
        except ConfigError as exc:
            problems = "\n".join(str(p) for p in exc.problems)
            log.error("reload refused; still running the previous config, rules and playbooks:\n%s", problems)
            self._tell_admins(
                f"reload refused ({len(exc.problems)} problem(s)); "
                f"the previous config, rules and playbooks keep running:\n{problems}"
            )
            return False
        except Exception as exc:  # a source that cannot be built from the new config
            log.exception("reload refused: the new config's sources could not be built")
            self._tell_admins(f"reload refused: {type(exc).__name__}: {exc}; the previous set keeps running")
            return False
        notes = plan.apply() if plan else []
        self.engine.swap_definitions(definitions, roster=roster, config=config)
        self.engine.metrics.declare(rules=[r.id for r in definitions.rules.rules])  # a new rule's series from now
        self.config = config
        self._seen = fingerprint(config, self.config_path)
        count = len(definitions.rules.rules)
        what = f"; {plan.summary()}" if plan else ""
        log.info("reloaded %d rule(s) and %d playbook(s)%s", count, len(definitions.playbooks), what)
        if notes:
            log.warning("reload: %s", "; ".join(notes))
            self._tell_admins("reloaded, but " + "; ".join(notes))
        return True

    def _tell_admins(self, text: str) -> None:
        now = self.clock.now()
        for destination in self.renderers:
            self.store.enqueue(destination, "admin", {"text": text}, now=now)
