"""Word-aware keyword matching over the words of a normalised text.

A keyword is normalised like the texts (``keyword_form``): traditional or simplified,
full- or half-width, any case, all compare equal. Then:

- A **Chinese** keyword matches a run of whole words: "被困" matches 员工/被困 and
  被困/人员, not 被/困扰; "停电" matches 小区/停电 and 不会/停电 (see negation), not
  不停/电. It also matches a dictionary word inside a longer compound, as jieba's search
  mode would find it ("火灾" in 火灾事故, "中毒" in 食物中毒, "伤亡" in 人员伤亡), except in a
  derived word that changes the meaning ("爆炸" in 爆炸性 or 爆炸式).
- An **English** keyword (letters and digits) matches whole words, a phrase
  ("caught fire") consecutive words; a trailing ``*`` makes the last word a prefix
  ("injur*" matches injured, injury, injuries).
- With ``substring=True`` (a rule's ``match.substring``) a keyword matches anywhere in the
  normalised text, as a plain substring.

**Negation.** An occurrence does not count when the same clause says it did not happen, is
feared, hypothetical or prevented: "没有人受伤", "无人员伤亡", "不会停电", "差点起火",
"防止触电", "no one was injured", "nobody hurt", "didn't catch fire". A one-character
negator (不, 没, 无, 未 ...) reaches two words ahead, a longer one (没有, 并未, 差点 ...)
three; a clause break ends both. ``negation=False`` turns this off.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.text.normalise import keyword_form
from monitor.text.segment import BREAK, is_word

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_KEYWORD = re.compile(r"^[0-9a-z\u00c0-\u024f'.\- ]+\*?$")

NEGATORS_SHORT = frozenset("不没无未非别勿莫防若怕")
NEGATORS_LONG = frozenset(
    [
        "没有",
        "并未",
        "并没有",
        "并非",
        "并无",
        "无人",
        "没人",
        "从未",
        "从没",
        "从没有",
        "毫无",
        "不会",
        "不曾",
        "未曾",
        "尚未",
        "暂无",
        "暂未",
        "目前无",
        "不是",
        "不再",
        "没能",
        "未能",
        "未见",
        "未有",
        "无一",
        "不用",
        "无需",
        "无须",
        "防止",
        "避免",
        "预防",
        "谨防",
        "以防",
        "以免",
        "防范",
        "杜绝",
        "排除",
        "万一",
        "如果",
        "假如",
        "要是",
        "倘若",
        "担心",
        "害怕",
        "生怕",
        "恐怕",
        "差点",
        "差一点",
        "险些",
        "几乎",
        "是否",
        "会不会",
        "有没有",
        "能不能",
        "可能会",
        "谣言",
        "辟谣",
        "不实",
    ]
)
NEGATORS_EN = frozenset(
    [
        "no",
        "not",
        "never",
        "nobody",
        "none",
        "nothing",
        "without",
        "neither",
        "nor",
        "cannot",
        "cant",
        "dont",
        "didnt",
        "doesnt",
        "isnt",
        "wasnt",
        "werent",
        "arent",
        "hasnt",
        "havent",
        "hadnt",
        "wont",
        "wouldnt",
        "couldnt",
        "shouldnt",
        "if",
        "unless",
        "prevent",
        "prevents",
        "prevented",
        "avoid",
        "avoids",
        "avoided",
        "nearly",
        "almost",
        "could",
        "might",
        "would",
        "rumor",
        "rumour",
        "rumors",
        "rumours",
        "fake",
        "hoax",
    ]
)
DERIVED_SUFFIXES = frozenset("性式般化感")
"""A keyword followed by one of these inside one word means something else (爆炸性 = sensational)."""


@dataclass(frozen=True, slots=True)
class Keyword:
    """A compiled keyword: its normalised form, and how it is matched."""

    raw: str
    form: str
    latin: bool
    words: tuple[str, ...] = ()
    prefix: bool = False


def compile_keyword(raw: str) -> Keyword:
    form = keyword_form(raw)
    prefix = form.endswith("*")
    body = form.rstrip("*").strip()
    latin = bool(body) and not _HAN.search(body) and bool(_LATIN_KEYWORD.match(form))
    words = tuple(re.findall(r"[0-9a-z\u00c0-\u024f]+(?:['.\-][0-9a-z\u00c0-\u024f]+)*", body)) if latin else ()
    return Keyword(raw, body, latin, words, prefix and latin)


@functools.lru_cache(maxsize=4096)
def compile_keywords(raws: tuple[str, ...]) -> tuple[Keyword, ...]:
    return tuple(compile_keyword(r) for r in raws if keyword_form(r).rstrip("*").strip())


class TextIndex:
    """The words of one text, indexed for matching many keywords (built once per text)."""

    __slots__ = ("_first", "ends", "joined", "starts", "tokens")

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        self.starts: list[int] = []
        self.ends: set[int] = set()
        pos = 0
        for token in self.tokens:
            self.starts.append(pos)
            pos += len(token)
            self.ends.add(pos)
        self.joined = "".join(self.tokens)
        self._first: dict[str, list[int]] | None = None

    def _positions(self, word: str) -> list[int]:
        if self._first is None:
            first: dict[str, list[int]] = {}
            for i, token in enumerate(self.tokens):
                first.setdefault(token, []).append(i)
            self._first = first
        return self._first.get(word, [])

    def occurrences(self, keyword: Keyword) -> Iterable[int]:
        """Token indexes where ``keyword`` occurs (as words), negated or not."""
        if keyword.latin:
            yield from self._latin(keyword)
        else:
            yield from self._han(keyword)

    def _latin(self, keyword: Keyword) -> Iterable[int]:
        words = keyword.words
        if not words:
            return
        n = len(words)
        if n == 1 and keyword.prefix:
            for i, token in enumerate(self.tokens):
                if token.startswith(words[0]):
                    yield i
            return
        for i in self._positions(words[0]) if not (keyword.prefix and n == 1) else ():
            tail = self.tokens[i : i + n]
            if len(tail) < n:
                continue
            if tail[:-1] == list(words[:-1]) and (
                tail[-1] == words[-1] or (keyword.prefix and tail[-1].startswith(words[-1]))
            ):
                yield i

    def _han(self, keyword: Keyword) -> Iterable[int]:
        form = keyword.form
        start = self.joined.find(form)
        while start >= 0:
            index = bisect.bisect_right(self.starts, start) - 1
            end = start + len(form)
            if (self.starts[index] == start and end in self.ends) or self._inside_word(index, start, end, form):
                yield index
            start = self.joined.find(form, start + 1)

    def _inside_word(self, index: int, start: int, end: int, form: str) -> bool:
        token = self.tokens[index]
        offset = start - self.starts[index]
        if offset + len(form) > len(token) or len(form) < 2 or not is_word(form):
            return False
        after = token[offset + len(form) : offset + len(form) + 1]
        return after not in DERIVED_SUFFIXES or not after

    def negated(self, index: int) -> bool:
        """Whether the clause says that what starts at token ``index`` did not happen."""
        for distance in (1, 2, 3):
            j = index - distance
            if j < 0 or self.tokens[j] == BREAK:
                return False
            token = self.tokens[j]
            if token in NEGATORS_LONG or token in NEGATORS_EN or token.endswith("n't"):
                return True
            if distance <= 2 and token in NEGATORS_SHORT:
                return True
        return False

    def count(self, keyword: Keyword, *, negation: bool = True) -> int:
        """How many times ``keyword`` occurs, not counting negated occurrences."""
        return sum(1 for i in self.occurrences(keyword) if not (negation and self.negated(i)))

    def has(self, keyword: Keyword, *, negation: bool = True) -> bool:
        if (keyword.words[0] if keyword.latin and keyword.words else keyword.form) not in self.joined:
            return False  # the common case, decided without walking the words
        return any(not (negation and self.negated(i)) for i in self.occurrences(keyword))


def found_in(keyword: Keyword, index: TextIndex, norm: str, *, substring: bool, negation: bool) -> bool:
    """Whether ``keyword`` occurs in a text (``index`` its words, ``norm`` its matching form)."""
    if substring:
        return keyword.form in norm
    return index.has(keyword, negation=negation)


@functools.lru_cache(maxsize=20_000)
def index_of(tokens: str) -> TextIndex:
    """The index of a text whose words are ``tokens`` (space-separated, as stored)."""
    return TextIndex(tokens.split(" ") if tokens else [])
