"""Where a JSON API keeps its items and their fields: one model per shape, used by the config and the sources.

The config file's ``mapping:`` of a ``json`` or ``complaints_api`` source is validated into
these models (with ``path:line`` problems), and the sources read the very same objects, so
``crisismon check`` accepts exactly what ``crisismon run`` can use.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from monitor.config.validation import Strict, found_expected

PUBLISHED_FORMATS = ("auto", "iso8601", "rfc2822", "epoch", "epoch_ms")
COMPLAINT_ATTRS = ("product", "region", "brand", "channel", "store")
FORMAT_HELP = "auto, iso8601, rfc2822, epoch, epoch_ms or a strptime pattern"


def check_time_format(fmt: str) -> str:
    if fmt not in PUBLISHED_FORMATS and "%" not in fmt:
        raise found_expected(
            repr(fmt), f"one of {', '.join(PUBLISHED_FORMATS)} or a strptime pattern such as %Y-%m-%d %H:%M:%S"
        )
    return fmt


def check_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise found_expected(repr(zone), "an IANA name such as Asia/Shanghai") from None
    return zone


def check_time_settings(time_format: str, timezone: str) -> None:
    """Raise ValueError naming the problem when a time format or zone is unknown."""
    if time_format not in PUBLISHED_FORMATS and "%" not in time_format:
        raise ValueError(f"time_format: found {time_format!r}, expected {FORMAT_HELP}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: found {timezone!r}, expected an IANA name such as Asia/Shanghai") from exc


class JsonMapping(Strict):
    """Where a generic JSON API keeps its items and their fields (dotted paths).

    ``items_path`` leads to the list of items (``""``: the document is the list). Field
    paths are relative to one item; ``a.b.0.c`` indexes lists. ``text`` may name several
    paths joined with ``+`` (``"title+description"``). ``url_template`` builds the link
    when the API gives none: ``"https://m.weibo.cn/detail/{mblog.id}"``. Times without an
    offset are in ``timezone``. ``html``: strip markup from title and text. ``category``:
    path of a complaint category. ``attrs``: item attribute name -> path (grouping fields
    such as brand or region).
    """

    items_path: str = Field(default="", description="Dotted path to the list of items, e.g. data.items")
    id: str | None = "id"
    title: str | None = "title"
    text: str | None = "text"
    url: str | None = "url"
    published: str | None = "published"
    published_format: str = Field(default="auto", description=FORMAT_HELP)
    timezone: str = Field(default="UTC", description="Time zone of times given without an offset")
    url_template: str | None = Field(default=None, description="Builds the link from item fields, e.g. https://x/{id}")
    html: bool = Field(default=True, description="Strip markup from title and text")
    category: str | None = None
    attrs: dict[str, str] = Field(default_factory=dict, description="attr name -> field path")

    _format = field_validator("published_format")(check_time_format)
    _zone = field_validator("timezone")(check_zone)

    @model_validator(mode="after")
    def _text_or_title(self) -> JsonMapping:
        if not (self.text or self.title):
            raise ValueError("a JSON mapping needs a text or a title path")
        return self


class ComplaintsMapping(Strict):
    """Where a CRM's JSON keeps its records (or counts) and their fields (dotted paths).

    ``items_path`` empty: the document is the list, or its ``complaints`` (or ``counts``)
    list. ``next``: path of the next page's URL (relative URLs are resolved). ``id`` None:
    a hash of time and text. Counts mode reads ``category``, ``count``, ``start``, ``end``.
    """

    items_path: str = Field(
        default="", description="Path to the list; empty: the document, or its 'complaints' or 'counts' list"
    )
    next: str | None = Field(default="next", description="Path of the next page's URL; None: no paging")
    id: str | None = Field(default="id", description="Path of the record id; None: a hash of time and text")
    time: str = Field(default="time", description="Path of the record time")
    time_format: str = Field(default="auto", description=FORMAT_HELP)
    timezone: str = Field(default="UTC", description="Time zone of times given without an offset")
    text: str = Field(default="text", description="Path of the complaint text")
    category: str | None = Field(default="category", description="Path of the complaint category")
    attrs: dict[str, str] = Field(
        default_factory=lambda: {a: a for a in COMPLAINT_ATTRS}, description="attr name -> field path"
    )
    count: str = Field(default="count", description="counts mode: path of the count")
    start: str = Field(default="start", description="counts mode: path of the interval's start")
    end: str = Field(default="end", description="counts mode: path of the interval's end")

    _format = field_validator("time_format")(check_time_format)
    _zone = field_validator("timezone")(check_zone)
