"""The communication kit of a playbook: statement templates and the placeholders they take.

Every playbook carries a ``kit:`` with five templates, written in Chinese (``text``) with an
English rendering (``text_en``): a holding statement, the first public statement, the
customer-service script, media Q&A and the internal briefing. Templates name facts of the
incident in braces (``{product}``, ``{count}``…, see :data:`PLACEHOLDERS`); :func:`fill`
puts the incident's values in. A template naming any other placeholder is refused at load
with its file:line. crisismon only drafts: people edit, approve and publish
(:mod:`monitor.incidents.statements`).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field, field_validator

from monitor.config.validation import Strict, found_expected
from monitor.models import Incident
from monitor.notify.i18n import Lang

KINDS: tuple[str, ...] = ("holding", "first_statement", "cs_script", "media_qa", "internal_briefing")

#: placeholder -> what it is filled with
PLACEHOLDERS: dict[str, str] = {
    "company": "communication.company",
    "product": "the product of the incident's group (product=X), else the group's values, else its title",
    "title": "the incident's title",
    "count": "how many items (posts, complaints) the incident has gathered",
    "time": "when the incident opened, in the configured time zone",
    "hotline": "communication.hotline",
    "regions": "communication.regions, joined",
    "incident": "the incident's number (#12)",
}
MAX_TEMPLATE_CHARS = 2900  # an approved text must fit one Slack section with its heading


def placeholders_in(text: str) -> list[str]:
    """The names in braces in ``text`` (``ValueError`` for unbalanced braces)."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


class Template(Strict):
    text: str = Field(min_length=1, max_length=MAX_TEMPLATE_CHARS, description="The template, in Chinese")
    text_en: str = Field(default="", max_length=MAX_TEMPLATE_CHARS, description="English rendering of text")

    @field_validator("text", "text_en")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            names = placeholders_in(value)
        except ValueError as exc:
            raise found_expected(f"unbalanced braces ({exc})", "{placeholder} names in matched braces") from None
        unknown = [n for n in names if n not in PLACEHOLDERS]
        if unknown:
            raise found_expected(
                ", ".join("{" + n + "}" for n in unknown), f"placeholders among {', '.join(PLACEHOLDERS)}"
            )
        return value


class Kit(Strict):
    holding: Template = Field(description="Holding statement: we know, we are checking, when we speak next")
    first_statement: Template = Field(description="First public statement: facts, apology, actions, contact")
    cs_script: Template = Field(description="Customer-service script for the hotline and chat")
    media_qa: Template = Field(description="Media Q&A: the likely questions and the agreed answers")
    internal_briefing: Template = Field(description="Internal briefing: what happened, one voice, who speaks")

    def template(self, kind: str) -> Template:
        if kind not in KINDS:
            raise KeyError(f"no statement kind {kind!r}; the kinds are {', '.join(KINDS)}")
        result: Template = getattr(self, kind)
        return result


@dataclass(frozen=True, slots=True)
class Facts:
    """What the company fills in everywhere (``communication:`` in the config)."""

    company: str = "我们"
    hotline: str = ""
    regions: tuple[str, ...] = ()


def values(incident: Incident, facts: Facts, lang: Lang) -> dict[str, str]:
    """The placeholder values for ``incident``."""
    count = incident.summary.items if incident.summary is not None else len(incident.top_items)
    joiner = "、" if lang.locale == "zh-CN" else ", "
    return {
        "company": facts.company,
        "product": product(incident),
        "title": incident.title,
        "count": str(count),
        "time": lang.time(incident.opened_at),
        "hotline": facts.hotline or ("客服热线" if lang.locale == "zh-CN" else "our hotline"),
        "regions": joiner.join(facts.regions) or ("相关地区" if lang.locale == "zh-CN" else "the regions concerned"),
        "incident": f"#{incident.id}",
    }


def product(incident: Incident) -> str:
    """``X1 充电宝`` for the group ``product=X1 充电宝,region=上海``; the group's values, or the title."""
    fields = dict(part.partition("=")[::2] for part in incident.group.split(",") if "=" in part)
    if fields.get("product"):
        return fields["product"]
    return " ".join(v for v in fields.values() if v) or incident.group or incident.title


def fill(text: str, filled: Mapping[str, str]) -> str:
    """``text`` with its placeholders replaced (unknown ones are left as they are)."""
    return string.Formatter().vformat(text, (), _Keep(filled))


def draft_text(kit: Kit, kind: str, incident: Incident, facts: Facts, lang: Lang) -> str:
    """The template of ``kind`` in the locale (Chinese unless ``en``), filled for ``incident``."""
    template = kit.template(kind)
    text = template.text_en if lang.locale == "en" and template.text_en else template.text
    return fill(text, values(incident, facts, lang))


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
