"""Who plays which role, and whom to escalate to when nobody acknowledges."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from monitor.errors import ConfigError
from monitor.playbooks import ROLES
from monitor.validation import Strict, found_expected, validate
from monitor.yamlload import load_yaml


class Person(Strict):
    name: str = Field(min_length=1)
    slack: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$", description="Slack user id")
    roles: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _known_roles(self) -> Person:
        unknown = [r for r in self.roles if r not in ROLES]
        if unknown:
            raise found_expected(", ".join(unknown), f"roles among {', '.join(ROLES)}")
        return self


class Roster(Strict):
    people: tuple[Person, ...] = ()
    escalation: tuple[str, ...] = Field(
        default=("crisis_lead", "management"), description="Roles to escalate to, in order"
    )

    def person_for(self, role: str) -> Person | None:
        return next((p for p in self.people if role in p.roles), None)

    def mentions(self) -> dict[str, str]:
        """role -> Slack user id of the first person holding it."""
        result: dict[str, str] = {}
        for person in self.people:
            for role in person.roles:
                if person.slack and role not in result:
                    result[role] = person.slack
        return result

    def describe(self, role: str) -> str:
        person = self.person_for(role)
        if person is None:
            return role
        return f"{role} ({person.name})"


def load_roster(path: Path | None) -> Roster:
    if path is None:
        return Roster()
    located = load_yaml(path)
    roster, problems = validate(Roster, located, located.data or {})
    if roster is None:
        raise ConfigError(problems)
    return roster
