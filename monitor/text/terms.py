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

**What does not count** (``negation=True``, the default). An occurrence does not count
when the text says it did not happen, is only feared, asked about, possible, or a rumour:

- *negated, feared or prevented* in its clause: "没有人受伤", "无人员伤亡", "不会停电",
  "差点起火", "防止触电", "no one was injured", "nobody hurt", "didn't catch fire". A
  one-character negator (不, 没, 无, 未 ...) reaches two words ahead, a longer one (没有,
  并未, 差点 ...) three; a clause break ends both;
- *possible*: a modal just before it ("会起火", "容易引发火灾", "可能导致烫伤", "can catch
  fire", "may cause burns"), unless the clause goes on with 了 or 过 ("会不会" is negation
  above; "怎么会冒烟" asks why it happened, so it counts);
- *carried*: a negation or modal before a verb of happening or causing (出现, 造成, 引发,
  "had", "caused") reaches what it governs: "从来没有出现过冒烟起火", "未造成人员受伤";
- *a risk*: a word of risk right after it ("起火风险", "漏电隐患", "fire hazard");
- *asked about*: in the clause that asks a question ("会触电吗？", "容易烫伤吗", "Can this
  heater catch fire?"), unless it says it happened: 了 or 过 after it ("冒烟了吗？"), or it
  asks why (为什么, 怎么, "why did ..."); a statement before the question counts
  ("孩子被烫伤，你们怎么赔？"). An English question counts as asking about it when the
  sentence opens with an auxiliary (is, can, does, will ...);
- *denied as a rumour* anywhere in its sentence: 谣言, 辟谣, 不实, "rumors", "hoax", "is false".

**Senses** (``Sense``): a rule may say that some keywords count only with certain other
words in the same clause, sentence or text (``with``: 住院 only with a cause of harm), or not
with them (``without``: 爆炸 not with 销量 or 价格; any keyword not in a sentence about a
film or a drill).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.text.normalise import keyword_form
from monitor.text.segment import BREAKS, END, QUESTION, is_word

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
        "最怕",
        "就怕",
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
MODALS_SHORT = frozenset(["会", "易", "将", "恐"])
"""Modals that make what follows (one or two words on) only possible: 会起火, 易燃."""
MODALS_LONG = frozenset(["可能", "可能会", "容易", "很容易", "极易", "易于", "或将", "可能导致", "有可能"])
"""Longer modals, reaching three words on: 容易引发火灾, 可能导致低温烫伤."""
MODALS_EN = frozenset(["can", "may", "will", "should", "shall", "risk", "risks", "danger", "prone", "potential"])
"""English modals and words of risk before a mention (could, might, would are negators)."""
CARRIERS = frozenset(
    [
        "出现",
        "发生",
        "造成",
        "导致",
        "引发",
        "引起",
        "酿成",
        "有过",
        "出过",
        "遇到",
        "遇过",
        "发现",
        "had",
        "has",
        "have",
        "caused",
        "cause",
        "causing",
        "causes",
        "experienced",
        "seen",
    ]
)
"""Verbs of happening or causing: a negation or modal before one reaches what it governs,
however far in the clause ("从来没有出现过冒烟起火的情况", "容易引发火灾和烫伤事故")."""
CONJUNCTIONS = frozenset(["or", "nor", "或", "或者", "和", "及"])
"""Between two mentions: a negation of the first reaches the second."""
RISK_AFTER = frozenset(["风险", "隐患", "危险", "危害", "risk", "risks", "hazard", "hazards"])
"""Right after a mention: only a risk of it ("存在起火风险", "a fire hazard")."""
REALISED = frozenset(["了", "过", "过了"])
"""After a mention, in its clause or question: it happened ("冒烟了，正常吗？")."""
PERCEIVED = frozenset(["看到", "看见", "闻到", "听到", "发现", "感到", "感觉到", "see", "smell", "hear", "feel"])
"""Between a modal and a mention, the modal is about perceiving it ("还会看到火花"), not the event."""
WHY = frozenset(["为什么", "为啥", "怎么", "怎么会", "咋", "咋会", "竟然", "居然", "why", "how come"])
"""Before a modal or in a question: asks why something that happened did (it counts)."""
QUESTION_PARTICLES = frozenset(["吗", "么", "嘛"])
"""At the end of a clause, a yes-no question even without a question mark."""
AUXILIARIES_EN = frozenset(
    [
        "is",
        "are",
        "am",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "has",
        "have",
        "had",
        "isnt",
        "doesnt",
        "dont",
        "wont",
        "cant",
        "what",
        "how",
    ]
)
"""An English question opening with one of these asks whether something happens."""
DENIALS = frozenset(
    [
        "谣言",
        "辟谣",
        "不实",
        "造谣",
        "谣传",
        "假消息",
        "假新闻",
        "rumor",
        "rumors",
        "rumour",
        "rumours",
        "hoax",
        "debunked",
    ]
)
"""Anywhere in a sentence: what the sentence mentions is denied."""
DENIAL_PHRASES = (
    ("不", "实"),
    ("is", "false"),
    ("are", "false"),
    ("was", "false"),
    ("false", "alarm"),
    ("not", "true"),
    ("fake", "news"),
)
DERIVED_SUFFIXES = frozenset("性式般化感")
"""A keyword followed by one of these inside one word means something else (爆炸性 = sensational)."""


Scope = Literal["clause", "sentence", "text"]


@dataclass(frozen=True, slots=True)
class Keyword:
    """A compiled keyword: its normalised form, and how it is matched."""

    raw: str
    form: str
    latin: bool
    words: tuple[str, ...] = ()
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Sense:
    """When a mention of ``keywords`` (their forms; empty: every keyword) counts: only with
    one of ``with_`` in the same ``within`` (clause, sentence or text), and never with one
    of ``without`` there (a negated ``without`` word does not exclude)."""

    keywords: frozenset[str]
    with_: tuple[Keyword, ...] = ()
    without: tuple[Keyword, ...] = ()
    within: Scope = "sentence"

    def covers(self, keyword: Keyword) -> bool:
        return not self.keywords or keyword.form in self.keywords or f"{keyword.form}*" in self.keywords


def compile_sense(
    keywords: Sequence[str], with_: Sequence[str], without: Sequence[str], within: Scope = "sentence"
) -> Sense:
    return Sense(
        frozenset(keyword_form(k) for k in keywords),
        compile_keywords(tuple(with_)),
        compile_keywords(tuple(without)),
        within,
    )


def _bare(token: str) -> str:
    """An English word without its possessive: "kettle's" -> "kettle" (a keyword matches both)."""
    return token[:-2] if token.endswith("'s") and len(token) > 2 else token


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

    __slots__ = ("_first", "_spans", "ends", "joined", "starts", "tokens")

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
        self._spans: tuple[list[tuple[int, int]], list[tuple[int, int]]] | None = None

    def _positions(self, word: str) -> list[int]:
        if self._first is None:
            first: dict[str, list[int]] = {}
            for i, token in enumerate(self.tokens):
                first.setdefault(token, []).append(i)
            self._first = first
        return self._first.get(word, [])

    def occurrences(self, keyword: Keyword) -> Iterable[tuple[int, int]]:
        """Token spans ``(first, after last)`` where ``keyword`` occurs as words, negated or not."""
        if keyword.latin:
            yield from self._latin(keyword)
        else:
            yield from self._han(keyword)

    def _latin(self, keyword: Keyword) -> Iterable[tuple[int, int]]:
        words = keyword.words
        if not words:
            return
        n = len(words)
        if n == 1 and keyword.prefix:
            for i, token in enumerate(self.tokens):
                if token.startswith(words[0]):
                    yield i, i + 1
            return
        for i in sorted({*self._positions(words[0]), *self._positions(f"{words[0]}'s")}):
            tail = [_bare(t) for t in self.tokens[i : i + n]]
            if len(tail) < n:
                continue
            if tail[:-1] == list(words[:-1]) and (
                tail[-1] == words[-1] or (keyword.prefix and tail[-1].startswith(words[-1]))
            ):
                yield i, i + n

    def _han(self, keyword: Keyword) -> Iterable[tuple[int, int]]:
        form = keyword.form
        start = self.joined.find(form)
        while start >= 0:
            index = bisect.bisect_right(self.starts, start) - 1
            end = start + len(form)
            last = bisect.bisect_right(self.starts, end - 1) - 1
            if self._bounded(index, start, last, end) or self._inside_word(index, start, end, form):
                yield index, last + 1
            start = self.joined.find(form, start + 1)

    def _bounded(self, first: int, start: int, last: int, end: int) -> bool:
        """Whether ``start``/``end`` fall on word boundaries, or inside words jieba only
        guessed (not in its dictionary: "发热片烧红了" is cut 发热/片烧/红, so 烧红 is there)."""
        at_start = self.starts[first] == start or not is_word(self.tokens[first])
        at_end = end in self.ends or not is_word(self.tokens[last])
        return at_start and at_end

    def _inside_word(self, index: int, start: int, end: int, form: str) -> bool:
        token = self.tokens[index]
        offset = start - self.starts[index]
        if offset + len(form) > len(token) or len(form) < 2 or not is_word(form):
            return False
        after = token[offset + len(form) : offset + len(form) + 1]
        return after not in DERIVED_SUFFIXES or not after

    # -- where a mention stands -------------------------------------------------------

    def _all_spans(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """For each token, the token range of its clause and of its sentence."""
        if self._spans is None:
            clause: list[tuple[int, int]] = [(0, 0)] * len(self.tokens)
            sentence: list[tuple[int, int]] = [(0, 0)] * len(self.tokens)
            for marks, out in ((BREAKS, clause), (frozenset((END, QUESTION)), sentence)):
                lo = 0
                for i in range(len(self.tokens) + 1):
                    if i == len(self.tokens) or self.tokens[i] in marks:
                        for j in range(lo, i):
                            out[j] = (lo, i)
                        if i < len(self.tokens):
                            out[i] = (lo, i)
                        lo = i + 1
            self._spans = (clause, sentence)
        return self._spans

    def scope(self, index: int, within: Scope) -> tuple[int, int]:
        """The token range ``[lo, hi)`` of the clause, sentence or text around ``index``."""
        if within == "text" or not self.tokens:
            return 0, len(self.tokens)
        clause, sentence = self._all_spans()
        return (clause if within == "clause" else sentence)[index]

    def negated(self, index: int) -> bool:
        """Whether the clause says that what starts at token ``index`` did not happen; a
        mention joined by "or" to a negated one is negated too ("never smoked or sparked")."""
        joined = index >= 2 and self.tokens[index - 1] in CONJUNCTIONS and self.tokens[index - 2] not in BREAKS
        if joined and self.negated(index - 2):
            return True
        for distance in (1, 2, 3):
            j = index - distance
            if j < 0 or self.tokens[j] in BREAKS:
                return False
            token = self.tokens[j]
            if token in NEGATORS_LONG or token in NEGATORS_EN or token.endswith("n't"):
                return True
            if distance <= 2 and token in NEGATORS_SHORT:
                return True
        return False

    def _realised_after(self, end: int, hi: int) -> bool:
        """Whether 了 or 过 follows (alone or ending a word: 熏黑了)."""
        return any(self.tokens[j] in REALISED or self.tokens[j].endswith("了") for j in range(end, hi))

    def carried(self, start: int, end: int) -> bool:
        """Whether a verb of happening or causing before the mention, in its clause, is
        itself negated or only possible: then so is the mention."""
        lo, _ = self.scope(start, "clause")
        for j in range(start - 1, lo - 1, -1):
            if self.tokens[j] in CARRIERS:
                return self.negated(j) or self.possible(j, j + 1)
        return False

    def possible(self, start: int, end: int) -> bool:
        """Whether a modal before the mention makes it only possible ("容易起火", "can catch
        fire"), or a word of risk right after it ("起火风险", "fire hazard")."""
        lo, hi = self.scope(start, "clause")
        after = [t for t in self.tokens[end : end + 2] if t != "的"]
        if after and after[0] in RISK_AFTER:
            return True
        for distance in (1, 2, 3):
            j = start - distance
            if j < lo:
                return False
            token = self.tokens[j]
            if token in PERCEIVED:
                return False
            modal_en = token in MODALS_EN or token.endswith(("'ll", "'d"))  # she'll, it'd
            short = distance <= 2 and (token in MODALS_SHORT or modal_en)
            if short or token in MODALS_LONG:
                if j > lo and self.tokens[j - 1] in WHY:
                    return False  # 怎么会冒烟: asks why it did
                return not self._realised_after(end, hi)
        return False

    def asked(self, start: int, end: int, latin: bool) -> bool:
        """Whether the mention is asked about, not reported: "会触电吗？", "Can it catch fire?"."""
        lo, hi = self.scope(start, "sentence")
        _, clause_hi = self.scope(start, "clause")
        question = hi < len(self.tokens) and self.tokens[hi] == QUESTION
        particle = self.tokens[clause_hi - 1] in QUESTION_PARTICLES if clause_hi > start else False
        if not (question or particle):
            return False
        if any(self.tokens[j] in WHY for j in range(lo, hi)):
            return False  # "电暖器为什么会冒烟？" asks why it did
        if latin:
            return question and self.tokens[lo] in AUXILIARIES_EN
        if not particle and clause_hi != hi:
            return False  # a statement before the question: "被烫成二度烫伤，你们怎么赔？"
        return not self._realised_after(end, clause_hi)

    def denied(self, start: int) -> bool:
        """Whether the sentence calls what it says a rumour ("网传门店起火系谣言")."""
        lo, hi = self.scope(start, "sentence")
        words = self.tokens[lo:hi]
        if any(w in DENIALS for w in words):
            return True
        return any((a, b) in DENIAL_PHRASES for a, b in itertools.pairwise(words))

    def discounted(self, start: int, end: int, latin: bool = False) -> bool:
        """Whether a mention at ``[start, end)`` does not count: negated, possible, asked about or denied."""
        return (
            self.negated(start)
            or self.possible(start, end)
            or self.carried(start, end)
            or self.asked(start, end, latin)
            or self.denied(start)
        )

    # -- matching ---------------------------------------------------------------------

    def within(self, keyword: Keyword, lo: int, hi: int, *, negation: bool) -> bool:
        """Whether ``keyword`` occurs in tokens ``[lo, hi)`` (not negated, with ``negation``)."""
        if (keyword.words[0] if keyword.latin and keyword.words else keyword.form) not in self.joined:
            return False
        return any(lo <= a < hi and not (negation and self.negated(a)) for a, _ in self.occurrences(keyword))

    def _sensible(self, keyword: Keyword, start: int, senses: Sequence[Sense]) -> bool:
        for sense in senses:
            if not sense.covers(keyword):
                continue
            lo, hi = self.scope(start, sense.within)
            if sense.with_ and not any(self.within(k, lo, hi, negation=False) for k in sense.with_):
                return False
            if any(self.within(k, lo, hi, negation=True) for k in sense.without):
                return False
        return True

    def mentions(self, keyword: Keyword, *, negation: bool = True, senses: Sequence[Sense] = ()) -> Iterable[int]:
        """Token indexes of the mentions of ``keyword`` that count."""
        for start, end in self.occurrences(keyword):
            if negation and self.discounted(start, end, keyword.latin):
                continue
            if senses and not self._sensible(keyword, start, senses):
                continue
            yield start

    def count(self, keyword: Keyword, *, negation: bool = True) -> int:
        """How many times the text talks about ``keyword`` (for the category classifier): only
        negated mentions are left out, since a question or a fear about it is still about it."""
        return sum(1 for start, _ in self.occurrences(keyword) if not (negation and self.negated(start)))

    def has(self, keyword: Keyword, *, negation: bool = True, senses: Sequence[Sense] = ()) -> bool:
        if (keyword.words[0] if keyword.latin and keyword.words else keyword.form) not in self.joined:
            return False  # the common case, decided without walking the words
        return any(True for _ in self.mentions(keyword, negation=negation, senses=senses))


def found_in(
    keyword: Keyword, index: TextIndex, norm: str, *, substring: bool, negation: bool, senses: Sequence[Sense] = ()
) -> bool:
    """Whether ``keyword`` occurs in a text (``index`` its words, ``norm`` its matching form),
    in a sense that counts. With ``substring``, senses look at the whole text."""
    if substring:
        if keyword.form not in norm:
            return False
        for sense in (s for s in senses if s.covers(keyword)):
            if sense.with_ and not any(k.form in norm for k in sense.with_):
                return False
            if any(k.form in norm for k in sense.without):
                return False
        return True
    return index.has(keyword, negation=negation, senses=senses)


@functools.lru_cache(maxsize=1_024)
def index_of(tokens: str) -> TextIndex:
    """The index of a text whose words are ``tokens`` (space-separated, as stored).

    Each item is matched once, at ingest, against every rule in a row (``monitor.detect.hits``), so a
    small cache serves it; 20,000 entries held about 75 MB (3.7 KB each, tracemalloc)."""
    return TextIndex(tokens.split(" ") if tokens else [])
