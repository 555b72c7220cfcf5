"""Every field an admin can write is documented (datasette's habit)."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from monitor.config import playbooks, roster, rules
from monitor.config import settings as config
from monitor.incidents import kit
from monitor.incidents.escalation import EscalationLevel, EscalationWebhook
from monitor.notify.routing import SlackRoute
from monitor.sources import mappings

from .conftest import ROOT


def fields(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


DOCUMENTED = [
    ("rules.md", rules.Rule),
    ("rules.md", rules.Match),
    ("rules.md", rules.Sense),
    ("rules.md", rules.Threshold),
    ("rules.md", rules.Spike),
    ("rules.md", rules.Anomaly),
    ("rules.md", rules.SeveritySpec),
    ("rules.md", rules.SeverityStep),
    ("playbooks.md", playbooks.Playbook),
    ("playbooks.md", playbooks.Phase),
    ("playbooks.md", playbooks.PlaybookItem),
    ("playbooks.md", kit.Kit),
    ("playbooks.md", kit.Template),
    ("configuration.md", config.AppConfig),
    ("configuration.md", config.SourceBase),
    ("configuration.md", config.RssSource),
    ("configuration.md", config.RsshubSource),
    ("configuration.md", config.JsonSource),
    ("configuration.md", config.ComplaintsApiSource),
    ("configuration.md", mappings.ComplaintsMapping),
    ("configuration.md", config.FileDropSource),
    ("configuration.md", config.JsonFeedSource),
    ("configuration.md", mappings.JsonMapping),
    ("configuration.md", config.ScoringConfig),
    ("configuration.md", config.NotifyConfig),
    ("configuration.md", config.SlackConfig),
    ("configuration.md", config.IncidentsConfig),
    ("configuration.md", config.HttpConfig),
    ("configuration.md", config.AuthConfig),
    ("configuration.md", config.ConsoleUser),
    ("configuration.md", SlackRoute),
    ("configuration.md", EscalationLevel),
    ("configuration.md", EscalationWebhook),
    ("configuration.md", config.CommunicationConfig),
    ("incidents.md", roster.Roster),
    ("incidents.md", roster.Person),
]


@pytest.mark.parametrize(("doc", "model"), DOCUMENTED, ids=[m.__name__ for _, m in DOCUMENTED])
def test_every_field_is_in_the_docs(doc: str, model: type[BaseModel]) -> None:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    missing = [f for f in fields(model) if not re.search(rf"`{re.escape(f)}`", text)]
    assert missing == [], f"document {missing} in docs/{doc}"


def test_every_readme_doc_link_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link
