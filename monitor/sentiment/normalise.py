"""Cleaning social-media text before it is scored.

``normalise`` removes what carries no sentiment and confuses the segmenter: HTML tags and
entities, URLs, @mentions (with Weibo's ``//@name:`` repost chains), hashtag markup
(``#话题#`` and ``#tag`` keep their words), repeated whitespace; and converts traditional
characters to simplified ones so that both score alike. Weibo emoticon codes such as
``[怒]`` are kept: ``emoticons`` decides what to do with them.
"""

from __future__ import annotations

import html
import re

from monitor.sentiment.hans import to_simplified

_TAG = re.compile(r"<[^<>]{1,500}>")
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
_MENTION = re.compile(r"(?:回复|//)?@[\w\-]{1,30}[:：]?")
_WEIBO_TOPIC = re.compile(r"#([^#\n]{1,64})#")
_HASH = re.compile(r"[#＃]")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` without markup, links and mentions, in simplified characters, one-spaced."""
    # each step only where its marker occurs: most texts have none, and this runs per item
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    lower = text.lower()
    if "http" in lower or "www." in lower:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", text)
    if "#" in text or "＃" in text:
        text = _HASH.sub(" ", _WEIBO_TOPIC.sub(r" \1 ", text))
    return to_simplified(_SPACE.sub(" ", text).strip())
