"""Words of a normalised text: jieba for Chinese, letters-and-digits runs for the rest.

``tokens(text)`` returns the words in order, with a mark between clauses: ``BREAK`` ("|")
after a comma, colon or the like, ``END`` (".") after a full stop, exclamation mark or line
end, ``QUESTION`` ("?") after a question mark. So a keyword is never matched across a
clause, a negation ("没有人受伤") only reaches the words after it in the same clause, and
rules can look at the clause or sentence around a mention (a question, its context).
Mentions (``@name``) are dropped. Texts prepared before sentence marks existed have only
``BREAK``: their sentences are their clauses. The text should be ``monitor.text.normalise.for_matching``'s.

jieba (MIT) is loaded once, lazily, in a tokenizer of our own (the module-level one is
left alone); ``is_word`` answers from its dictionary.
"""

from __future__ import annotations

import re
from typing import Any

from monitor.text.lazy import once

BREAK = "|"
END = "."
QUESTION = "?"
BREAKS = frozenset((BREAK, END, QUESTION))
_STRENGTH = {BREAK: 0, END: 1, QUESTION: 2}

_RUN = re.compile(
    r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|(?P<word>[0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+(?:['.\-][0-9a-z\u00c0-\u024f]+)*)"
    r"|(?P<mention>@[\w\-]{1,30})"
    r"|(?P<stop>[,.!?;:，。！？；：…\n\r|/\\~～()\[\]{}（）【】「」《》\"“”]+)"
)


@once  # one dictionary per process, however many threads segment their first text at once
def _tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(60)
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


def mark(stop: str) -> str:
    """The mark for a run of punctuation: a question, the end of a sentence, or a clause break
    (an ellipsis, "..." or "…", only pauses)."""
    if "?" in stop or "？" in stop:
        return QUESTION
    if any(c in stop for c in "。!！\n\r") or stop.strip() == ".":
        return END
    return BREAK


def tokens(text: str) -> list[str]:
    """The words of ``text`` with ``BREAK``, ``END`` or ``QUESTION`` between clauses."""
    out: list[str] = []
    for match in _RUN.finditer(text):
        kind = match.lastgroup
        if kind == "han":
            out.extend(han_words(match.group()))
        elif kind == "word":
            out.append(match.group())
        elif kind == "stop" and out:
            sign = mark(match.group())
            if out[-1] not in BREAKS:
                out.append(sign)
            elif _STRENGTH[sign] > _STRENGTH[out[-1]]:
                out[-1] = sign
    while out and out[-1] in (BREAK, END):
        out.pop()
    if out == [QUESTION]:
        out.pop()
    return out
