"""Hot reload: swap in a new rule and playbook set only when all of it is valid."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from monitor.clock import Clock
from monitor.config import AppConfig
from monitor.engine import Engine
from monitor.errors import ConfigError
from monitor.loading import Definitions, load_definitions
from monitor.notify.render import Renderer
from monitor.store import SqlStore

log = logging.getLogger(__name__)

RELOAD_CHECK = timedelta(seconds=5)


def fingerprint(config: AppConfig) -> tuple[tuple[str, int, int], ...]:
    """Name, size and mtime of every rule and playbook file: changes when any file does."""
    entries = []
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
        store: SqlStore,
        renderers: Mapping[str, Renderer],
        clock: Clock,
        load: Callable[[AppConfig], Definitions] = load_definitions,
    ) -> None:
        self.engine = engine
        self.config = config
        self.store = store
        self.renderers = renderers
        self.clock = clock
        self.load = load
        self._seen = fingerprint(config)

    def check_files(self) -> bool | None:
        """Reload when a file changed; None when nothing changed."""
        current = fingerprint(self.config)
        if current == self._seen:
            return None
        self._seen = current
        return self.reload()

    def reload(self) -> bool:
        """Validate and swap; on any problem keep the running set and say why. True if swapped."""
        try:
            definitions = self.load(self.config)
        except ConfigError as exc:
            problems = "\n".join(str(p) for p in exc.problems)
            log.error("reload refused; still running the previous rules and playbooks:\n%s", problems)
            self._tell_admins(
                f"rule/playbook reload refused ({len(exc.problems)} problem(s)); "
                f"the previous set keeps running:\n{problems}"
            )
            return False
        self.engine.swap_definitions(definitions)
        count = len(definitions.rules.rules)
        log.info("reloaded %d rule(s) and %d playbook(s)", count, len(definitions.playbooks))
        return True

    def _tell_admins(self, text: str) -> None:
        now = self.clock.now()
        for destination in self.renderers:
            self.store.enqueue(destination, "admin", {"text": text}, now=now)
