"""Plain text from feed markup: HTML to text, whitespace, and short problem summaries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from html.parser import HTMLParser

log = logging.getLogger(__name__)

MAX_REPORTED_PROBLEMS = 3

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- plain text

_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"}
    | {"footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol"}
    | {"p", "pre", "section", "table", "td", "th", "tr", "ul"}
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def collapse(text: str) -> str:
    return " ".join(text.split())


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    if "<" not in markup and "&" not in markup:
        return collapse(markup)
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return collapse("".join(parser.parts))


def _join_text(title: str, body: str) -> str:
    if not body or body == title:
        return title
    if not title or body.startswith(title):
        return body
    return f"{title} {body}"


def _summarize(problems: Sequence[str]) -> list[str]:
    """At most a few problems, then a count of the rest (one bad feed, not a flood)."""
    if len(problems) <= MAX_REPORTED_PROBLEMS:
        return list(problems)
    shown = list(problems[:MAX_REPORTED_PROBLEMS])
    shown.append(f"... and {len(problems) - MAX_REPORTED_PROBLEMS} more like these")
    return shown
