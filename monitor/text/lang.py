"""Which language an item is in: ``zh``, ``en`` or ``other``.

Scripts decide first: text that is mostly Han characters is Chinese (English words mixed
in, as in "我的X3电暖器坏了", do not change that), kana or hangul make it ``other``
(Japanese, Korean). Text in Latin letters is asked of CLD2 (``pycld2``, Google's compact
language detector): English when CLD2 says so, or when CLD2 is unsure and the text is
plain ASCII (short posts such as "lol wtf"); any other language is ``other``. Text without
letters (emoji, numbers) is ``other``. Never raises.
"""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["zh", "en", "other"]
LANGS: tuple[Lang, ...] = ("zh", "en", "other")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_MENTION = re.compile(r"@[\w\-]{1,30}")
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")


def detect(text: str) -> Lang:
    """The language of ``text`` (cleaned, see ``monitor.text.normalise``)."""
    text = _MENTION.sub(" ", text)
    han = len(_HAN.findall(text))
    other_cjk = len(_KANA.findall(text)) + len(_HANGUL.findall(text))
    if other_cjk > max(1, han // 10):
        return "other"
    rest = _HAN.sub(" ", text)
    words = _WORD.findall(rest)
    if han and han >= len(words):
        return "zh"
    latin = _LATIN_WORD.findall(rest)
    if not latin or len(latin) < len(words) / 2:
        return "zh" if han else "other"
    return "en" if _is_english(rest) else "other"


def _is_english(text: str) -> bool:
    try:
        import pycld2

        reliable, _, details = pycld2.detect(text, bestEffort=True)
    except Exception:  # invalid UTF-8 inside, or CLD2 refusing the input
        return text.isascii()
    code = details[0][1] if details else "un"
    if code == "en":
        return True
    return not reliable and text.isascii()
