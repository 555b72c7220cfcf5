"""Domain errors. Only ``monitor.cli.main`` turns them into messages and exit codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a config, rule or playbook file."""

    path: str
    line: int
    field: str
    found: str
    expected: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: found {self.found}, expected {self.expected}"


class ConfigError(Exception):
    """One or more problems in the files an admin edits; all of them, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.path, p.line, p.field))
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFound(Exception):
    """An incident, item or message that does not exist."""


class InvalidOperation(Exception):
    """An operation that the current state does not allow (with what to do instead)."""
