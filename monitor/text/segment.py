"""Words of a normalised text: jieba for Chinese, letters-and-digits runs for the rest.

``tokens(text)`` returns the words in order, with ``BREAK`` ("|") between clauses (at
punctuation and line ends), so that a keyword is never matched across a sentence and a
negation ("没有人受伤") only reaches the words after it in the same clause. Mentions
(``@name``) are dropped. The text should be ``monitor.text.normalise.for_matching``'s.

jieba (MIT) is loaded once, lazily, in a tokenizer of our own (the module-level one is
left alone); ``is_word`` answers from its dictionary.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

BREAK = "|"

_RUN = re.compile(
    r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|(?P<word>[0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+(?:['.\-][0-9a-z\u00c0-\u024f]+)*)"
    r"|(?P<mention>@[\w\-]{1,30})"
    r"|(?P<stop>[,.!?;:，。！？；：…\n\r|/\\~～()\[\]{}（）【】「」《》\"“”]+)"
)

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(60)
    with _lock:
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
    return tokenizer


def han_words(run: str) -> list[str]:
    """jieba's words for a run of Han characters (HMM on, for new words)."""
    return [w for w in _tokenizer().cut(run, HMM=True) if w.strip()]


def is_word(word: str) -> bool:
    """Whether jieba's dictionary knows ``word`` as a word (frequency above 0)."""
    return bool(_tokenizer().FREQ.get(word))


def word_frequencies() -> dict[str, int]:
    """jieba's dictionary: word -> frequency (for ``crisismon check``'s keyword warnings)."""
    freq: dict[str, int] = _tokenizer().FREQ
    return freq


def tokens(text: str) -> list[str]:
    """The words of ``text`` with ``BREAK`` between clauses."""
    out: list[str] = []
    for match in _RUN.finditer(text):
        kind = match.lastgroup
        if kind == "han":
            out.extend(han_words(match.group()))
        elif kind == "word":
            out.append(match.group())
        elif kind == "stop" and out and out[-1] != BREAK:
            out.append(BREAK)
    while out and out[-1] == BREAK:
        out.pop()
    return out
