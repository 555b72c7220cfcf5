"""Who plays which role, and whom to escalate to when nobody acknowledges."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from monitor.config.roles import ROLES
from monitor.config.validation import Strict, found_expected, validate
from monitor.config.yamlload import load_yaml
from monitor.errors import ConfigError


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
    slack_only_known: bool = Field(
        default=False,
        description="Refuse Slack actions from people who are not in the roster (else they act under their Slack name)",
    )

    def by_slack(self, user_id: str) -> Person | None:
        """The person whose ``slack`` id is ``user_id``."""
        return next((p for p in self.people if p.slack == user_id), None)

    def by_name(self, name: str) -> Person | None:
        return next((p for p in self.people if p.name == name), None)

    def roles_of(self, name: str) -> tuple[str, ...]:
        """The roles of the person called ``name`` (none when unknown)."""
        person = self.by_name(name)
        return person.roles if person else ()

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
