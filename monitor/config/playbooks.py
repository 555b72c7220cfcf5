"""Playbook files: phases of concrete checklist items with owners and SLA offsets."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import Field, HttpUrl, field_validator, model_validator

from monitor.config.durations import Duration
from monitor.config.roles import ROLES
from monitor.config.validation import Strict, found_expected, validate
from monitor.config.yamlload import load_yaml
from monitor.detect.severity import SeverityName, at_least
from monitor.errors import ConfigError, Problem
from monitor.incidents.kit import Kit
from monitor.models import ChecklistEntry

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Link(Strict):
    title: str
    url: HttpUrl


class PlaybookItem(Strict):
    id: Slug
    text: str = Field(min_length=1, description="What to do, in Chinese")
    text_en: str = Field(min_length=1, description="English rendering of text")
    owner: str
    due: Duration = Field(description="Due offset from the incident's start")
    min_severity: SeverityName | None = None
    links: tuple[Link, ...] = ()

    @field_validator("owner")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise found_expected(repr(value), f"one of the roles {', '.join(ROLES)}")
        return value


class Phase(Strict):
    id: Slug
    title: str
    title_en: str
    items: tuple[PlaybookItem, ...] = Field(min_length=1)


class Playbook(Strict):
    id: Slug
    title: str
    title_en: str
    description: str = ""
    description_en: str = ""
    phases: tuple[Phase, ...] = Field(min_length=1)
    kit: Kit | None = Field(
        default=None, description="Statement templates (monitor.incidents.kit); shipped playbooks all have one"
    )

    @model_validator(mode="after")
    def _unique_item_ids(self) -> Playbook:
        seen: set[str] = set()
        for phase in self.phases:
            for item in phase.items:
                if item.id in seen:
                    raise found_expected(f"item id {item.id!r} twice", "item ids unique within the playbook")
                seen.add(item.id)
        return self

    def checklist(self, opened_at: datetime, severity: str) -> list[ChecklistEntry]:
        """The items that apply at ``severity``, with due times from ``opened_at``."""
        return [
            ChecklistEntry(
                item_id=item.id,
                phase=phase.id,
                phase_title=phase.title,
                text=item.text,
                text_en=item.text_en,
                owner=item.owner,
                due_at=opened_at + item.due,
            )
            for phase in self.phases
            for item in phase.items
            if item.min_severity is None or at_least(severity, item.min_severity)
        ]


def load_playbook(path: Path) -> tuple[Playbook | None, list[Problem]]:
    try:
        located = load_yaml(path)
    except ConfigError as exc:
        return None, list(exc.problems)
    book, problems = validate(Playbook, located, located.data)
    if book is not None and book.id != path.stem:
        problems.append(
            Problem(
                str(path),
                located.line_of(("id",)),
                "id",
                repr(book.id),
                f"the file name's stem {path.stem!r}",
            )
        )
        book = None
    return book, problems


def load_playbooks(directory: Path) -> tuple[dict[str, Playbook], list[Problem]]:
    """Every ``*.yaml`` playbook in ``directory``, with all problems of all files."""
    books: dict[str, Playbook] = {}
    problems: list[Problem] = []
    if not directory.is_dir():
        return books, [
            Problem(str(directory), 1, "playbooks_dir", "no such directory", "a directory of playbook YAML files")
        ]
    for path in _yaml_files(directory):
        book, found = load_playbook(path)
        problems.extend(found)
        if book is not None:
            books[book.id] = book
    return books, problems


def _yaml_files(directory: Path) -> Iterable[Path]:
    return sorted(p for p in directory.iterdir() if re.search(r"\.ya?ml$", p.name))
