"""Normalising text once, at ingest, for matching, classification, dedup and scoring.

Two forms come out of an item's text (the original is kept for display):

- ``for_scoring``: markup and links removed, full-width forms folded to half-width (NFKC),
  traditional characters converted to simplified ones with OpenCC (``t2s``), one-spaced.
  Case and mentions are kept: the sentiment models read them.
- ``for_matching``: the same, case-folded, with typographic quotes made plain, so that
  keywords (normalised the same way) compare equal whatever script variant or width the
  writer used: 冒煙 == 冒烟, ＡＢＣ == abc, 電暖器 == 电暖器.

Nothing here raises on odd input: lone surrogates (mojibake), control characters and very
long texts (cut at ``MAX_CHARS``) are handled.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

from monitor.text.lazy import once

MAX_CHARS = 20_000
"""Characters of an item considered for matching and scoring (a 10,000-character post fits)."""

_TAG = re.compile(r"<[^<>]{1,500}>")
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_NEWLINES = re.compile(r"\n\s*")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'"})


@once
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional characters and phrases in ``text`` converted to simplified ones (OpenCC)."""
    if not text:
        return text
    try:
        return str(_converter().convert(text))
    except Exception:  # an odd code point must not lose the item
        return text


def clean(text: str) -> str:
    """Valid Unicode without markup, links or control characters, width-folded, simplified."""
    if not isinstance(text, str):
        text = str(text)
    text = text[: MAX_CHARS * 2].encode("utf-8", "replace").decode("utf-8")
    text = html.unescape(_TAG.sub(" ", text))
    text = _URL.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = _NEWLINES.sub("\n", _SPACE.sub(" ", text)).strip()
    return to_simplified(text[:MAX_CHARS])


def for_scoring(title: str, text: str) -> str:
    """What the sentiment models read: the text (the title when there is no text), cleaned."""
    return clean(text) or clean(title)


def for_matching(text: str) -> str:
    """``clean`` and case-folded, with plain quotes: what keywords are compared with."""
    return clean(text).casefold().translate(_QUOTES)


def keyword_form(keyword: str) -> str:
    """A rule's keyword normalised like the texts it is compared with."""
    return " ".join(for_matching(keyword).split())
