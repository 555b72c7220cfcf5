"""Is a text Chinese? A script count, good enough to keep other languages out of scoring.

Chinese when there are at least as many Han characters as words in other alphabets (a run
of Latin, Cyrillic... letters counts as one), and no more Japanese kana or Korean hangul
than a trace. "这个app太烂了" is Chinese; "I love 北京 so much" is not, nor is
"このラーメンは美味しい".
"""

from __future__ import annotations

import re
import unicodedata

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_WORD = re.compile(r"[^\W\d_]+")


def script_counts(text: str) -> tuple[int, int, int]:
    """(Han characters, kana and hangul characters, words in other alphabets)."""
    han = len(_HAN.findall(text))
    other_cjk = len(_KANA.findall(text)) + len(_HANGUL.findall(text))
    words = 0
    for word in _WORD.findall(_HAN.sub(" ", _KANA.sub(" ", _HANGUL.sub(" ", text)))):
        if any(unicodedata.category(ch).startswith("L") for ch in word):
            words += 1
    return han, other_cjk, words


def is_chinese(text: str) -> bool:
    """True for text written (mostly) in Chinese."""
    han, other_cjk, words = script_counts(text)
    if han == 0 or other_cjk > max(1, han // 10):
        return False
    return han >= words
