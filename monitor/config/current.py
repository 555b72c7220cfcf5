"""One view of the current definitions: rules, playbooks, roster, and the config (its sources
and routing). Every component that needs a definition reads it here at the moment it needs
it; a reload swaps the whole set in one place (:meth:`CurrentDefinitions.swap`), so no
component can keep a copy loaded at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from monitor.config.loading import Definitions
from monitor.config.playbooks import Playbook
from monitor.config.roster import Roster
from monitor.config.rules import RuleSet
from monitor.config.settings import AppConfig


@dataclass(frozen=True)
class Snapshot:
    """One consistent set, swapped whole."""

    definitions: Definitions
    roster: Roster
    config: AppConfig | None = None  # None: built without a config (tests, rule tests)


class CurrentDefinitions:
    """The definitions in force. ``playbooks`` is a read-only mapping that always shows the
    current playbooks (hand it to anything that takes a ``Mapping[str, Playbook]``)."""

    def __init__(self, definitions: Definitions, roster: Roster | None = None, config: AppConfig | None = None) -> None:
        self._snapshot = Snapshot(definitions, roster or Roster(), config)
        self._lock = threading.Lock()
        self.playbooks: Mapping[str, Playbook] = CurrentPlaybooks(self)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def definitions(self) -> Definitions:
        return self._snapshot.definitions

    @property
    def rules(self) -> RuleSet:
        return self._snapshot.definitions.rules

    @property
    def roster(self) -> Roster:
        return self._snapshot.roster

    @property
    def config(self) -> AppConfig | None:
        return self._snapshot.config

    def swap(self, definitions: Definitions, *, roster: Roster | None = None, config: AppConfig | None = None) -> None:
        """The one place a reload changes definitions (roster and config kept when not given)."""
        with self._lock:
            old = self._snapshot
            self._snapshot = Snapshot(
                definitions,
                old.roster if roster is None else roster,
                old.config if config is None else config,
            )


class CurrentPlaybooks(Mapping[str, Playbook]):
    """A read-only view of whichever playbooks are current."""

    def __init__(self, current: CurrentDefinitions) -> None:
        self._current = current

    def __getitem__(self, key: str) -> Playbook:
        return self._current.definitions.playbooks[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current.definitions.playbooks)

    def __len__(self) -> int:
        return len(self._current.definitions.playbooks)
