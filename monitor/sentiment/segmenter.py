"""SnowNLP's word segmenter, re-implemented to give the same words, much faster.

SnowNLP (``snownlp/seg/y09_2047.py``) tags each character of a run of Chinese characters
with b/m/e/s (begin, middle, end of a word, single) by a second-order Viterbi search over
an interpolated trigram model of (character, tag) pairs. At each character it evaluates
the 64 (tag two back, tag one back, tag) transitions, each a sum of three dictionary
look-ups with nested-tuple keys and a logarithm, and copies every surviving path.

This module runs the same search over the same numbers, with the work moved to load time:

- the log-probability of every transition is computed once. It only depends on the
  unigram term unless the model saw that bigram or trigram of (character, tag) pairs, and
  the model saw on average about one trigram per character triple, so each step does one
  look-up per character pair and one per character triple instead of 64 of each;
- back-pointers replace copied paths.

Every floating-point operation is the one SnowNLP does, in the same order, so the path
scores, and therefore the words, are identical, ties included:

- a state keeps the first best predecessor in SnowNLP's order (previous tags b, m, e, s);
- a character the model has never seen takes, for every tag, the path of the *last*
  predecessor (previous tag s), whatever its score: SnowNLP overwrites rather than compares;
- the final path is the first best one in the order (tag, previous tag).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from monitor.sentiment.segtables import FORMAT as FORMAT
from monitor.sentiment.segtables import Seen as Seen
from monitor.sentiment.segtables import SegTables as SegTables
from monitor.sentiment.snowdata import data_file, load_marshal
from monitor.sentiment.tablecache import load_tables

TAGS = ("b", "m", "e", "s")
NEG_INF = float("-inf")
HAN_RUN = re.compile("([\u4e00-\u9fa5]+)")
"""SnowNLP's definition of Chinese text: only the basic CJK block, not its extensions."""

_BOS = ("", "BOS")


def _div(v1: float, v2: float) -> float:
    return 0.0 if v2 == 0 else float(v1) / v2


def _log(x: float) -> float:
    return NEG_INF if x == 0 else math.log(x)


def build_tables(model: Mapping[str, Any]) -> SegTables:
    """Converts SnowNLP's ``CharacterBasedGenerativeModel`` data (``seg.marshal.3``)."""
    uni: dict[tuple[str, str], int] = model["uni"]["d"]
    bi: dict[tuple[tuple[str, str], tuple[str, str]], int] = model["bi"]["d"]
    tri: dict[tuple[tuple[str, str], ...], int] = model["tri"]["d"]
    l1, l2, l3 = model["l1"], model["l2"], model["l3"]
    chars = "".join(sorted({c for c, t in uni if t in TAGS and HAN_RUN.fullmatch(c)}))
    n = len(chars) + 2
    # (character, tag) -> (character index, tag); only what can occur in a search.
    states = {(c, tag): (i + 1, t) for i, c in enumerate(chars) for t, tag in enumerate(TAGS)}
    states[_BOS] = (0, 0)
    # The three terms of CharacterBasedGenerativeModel.log_prob, computed as it does.
    uni_term = [0.0] * (4 * n)
    for pair, count in uni.items():
        st = states.get(pair)
        if st is not None and st[0]:
            uni_term[4 * st[0] + st[1]] = l1 * (float(count) / model["uni"]["total"])
    bi_term: dict[tuple[int, int, int, int], float] = {}
    bigram: dict[int, list[float]] = {}
    for (p2, p3), count in bi.items():
        s2, s3 = states.get(p2), states.get(p3)
        if s2 is not None and s3 is not None and s3[0]:
            term = bi_term[s2 + s3] = _div(l2 * count, uni.get(p2, 0))
            lp = _log(uni_term[4 * s3[0] + s3[1]] + term)
            bigram.setdefault(n * s2[0] + s3[0], []).extend((4 * s2[1] + s3[1], lp))
    trigram: dict[int, list[float]] = {}
    for (p1, p2, p3), count in tri.items():
        s1, s2, s3 = states.get(p1), states.get(p2), states.get(p3)
        if s1 is None or s2 is None or s3 is None or not s3[0]:
            continue
        term = _div(l3 * count, bi.get((p1, p2), 0))
        lp = _log(uni_term[4 * s3[0] + s3[1]] + bi_term.get(s2 + s3, 0.0) + term)
        key = (n * s1[0] + s2[0]) * n + s3[0]
        trigram.setdefault(key, []).extend((16 * s1[1] + 4 * s2[1] + s3[1], lp))
    valid = [(0,)] + [tuple(t for t in range(4) if uni.get((c, TAGS[t]), 0)) for c in chars]
    return SegTables(
        chars,
        (*valid, ()),
        tuple(_log(u) for u in uni_term),
        {k: tuple(v) for k, v in bigram.items()},
        {k: tuple(v) for k, v in trigram.items()},
    )


class Segmenter:
    """Splits text into words exactly as ``snownlp.seg.seg`` does."""

    def __init__(self, tables: SegTables) -> None:
        self._t = tables
        self._index = {c: i + 1 for i, c in enumerate(tables.chars)}
        self._n = len(tables.chars) + 2

    @classmethod
    def from_snownlp(cls, model_path: Path | None = None) -> Segmenter:
        """SnowNLP's segmentation model (``seg/seg.marshal.3`` by default), through the
        derived-table cache of ``monitor.sentiment.tablecache``."""
        source = model_path or data_file("seg", "seg.marshal.3")
        return cls(load_tables(source, lambda p: build_tables(load_marshal(p))))

    def words(self, text: str) -> list[str]:
        """SnowNLP's ``seg.seg(text)``: Chinese runs tagged, everything else split on spaces."""
        words: list[str] = []
        for piece in HAN_RUN.split(text):
            piece = piece.strip()
            if not piece:
                continue
            if HAN_RUN.match(piece):
                words.extend(_join(piece, self.tags(piece)))
            else:
                words.extend(piece.split())
        return words

    def tags(self, run: str) -> list[int]:
        """The b/m/e/s tag index of every character of a run of Chinese characters."""
        unknown = self._n - 1
        index = self._index
        cols: list[list[float]] = [[0.0]]  # cols[tag][previous tag]; starts at (BOS, BOS)
        a = b = 0  # the two previous characters (BOS)
        back: list[list[list[int]]] = []
        for c in [index.get(ch, unknown) for ch in run]:
            if self._t.valid_tags[c]:
                cols, pointers = self._step(cols, a, b, c)
            else:
                cols, pointers = _unknown_step(cols)
            back.append(pointers)
            a, b = b, c
        return _backtrack(cols, back)

    def _step(self, cols: list[list[float]], a: int, b: int, c: int) -> tuple[list[list[float]], list[list[int]]]:
        """One Viterbi step: the best score and predecessor of each (previous tag, tag)."""
        t = self._t
        valid = t.valid_tags[c]
        uni = t.log_uni[4 * c : 4 * c + 4]
        tops = [max(col) for col in cols]
        args = [col.index(top) for col, top in zip(cols, tops, strict=True)]
        if len(valid) == 4:
            new = [[x + lp for x in tops] for lp in uni]
            pointers = [args[:] for _ in uni]
        else:
            new = list(_NO_PATH[len(cols)])
            pointers = list(_FIRST[len(cols)])
            for s in valid:
                new[s] = [x + uni[s] for x in tops]
                pointers[s] = args[:]
        # Cells that the shortcut above may get wrong: transitions the model saw, and
        # columns where rounding could change which predecessor comes first.
        cells: dict[tuple[int, int], list[float]] = {}
        seen = t.bigram.get(self._n * b + c, ())
        for i in range(0, len(seen), 2):
            tb, s = divmod(int(seen[i]), 4)
            lp = seen[i + 1]
            cells[tb, s] = [x + lp for x in cols[tb]]
        if any(args):
            for tb in _unsure(cols, tops, args):
                for s in valid:
                    if (tb, s) not in cells:
                        cells[tb, s] = [x + uni[s] for x in cols[tb]]
        seen = t.trigram.get((self._n * a + b) * self._n + c, ())
        for i in range(0, len(seen), 2):
            ta, code = divmod(int(seen[i]), 16)
            tb, s = divmod(code, 4)
            if (tb, s) not in cells:
                cells[tb, s] = [x + uni[s] for x in cols[tb]]
            cells[tb, s][ta] = cols[tb][ta] + seen[i + 1]
        for (tb, s), sums in cells.items():
            best = max(sums)
            new[s][tb] = best
            pointers[s][tb] = sums.index(best)
        return new, pointers


_NO_PATH = {w: [[NEG_INF] * w] * 4 for w in (1, 4)}
_FIRST = {w: [[0] * w] * 4 for w in (1, 4)}
"""Rows of tags a character cannot have (shared, never written to)."""


def _unsure(cols: list[list[float]], tops: list[float], args: list[int]) -> list[int]:
    """Columns where adding the same log-probability to every entry might not keep the
    first maximum first.

    Rounding can make ``x + lp == top + lp`` for an ``x`` just below ``top``, and then an
    earlier ``x`` wins SnowNLP's tie. Scores are at most 0 and log-probabilities in
    [-17, 0], so an entry more than 1e-13 * (64 - top) below ``top`` (thousands of units
    in the last place) cannot tie with it.
    """
    return [
        tb
        for tb, arg in enumerate(args)
        if arg and tops[tb] != NEG_INF and max(cols[tb][:arg]) >= tops[tb] - 1e-13 * (64.0 - tops[tb])
    ]


def _unknown_step(cols: list[list[float]]) -> tuple[list[list[float]], list[list[int]]]:
    last = len(cols[0]) - 1
    carried = [col[last] for col in cols]
    return [carried[:] for _ in range(4)], [[last] * len(cols) for _ in range(4)]


def _backtrack(cols: list[list[float]], back: list[list[list[int]]]) -> list[int]:
    best = NEG_INF
    end = (0, 0)
    first = True
    for s, col in enumerate(cols):
        for tb, score in enumerate(col):
            if first or score > best:
                best, end, first = score, (s, tb), False
    tags = [end[0]]
    if len(back) > 1:
        tags.append(end[1])
        for i in range(len(back) - 1, 1, -1):
            tags.append(back[i][tags[-2]][tags[-1]])
    tags.reverse()
    return tags


def _join(run: str, tags: list[int]) -> Iterator[str]:
    """``snownlp.seg.seg.Seg.seg``: characters to words from their b/m/e/s tags."""
    word = ""
    for char, tag in zip(run, tags, strict=True):
        if tag == 2:
            yield word + char
            word = ""
        elif tag in (0, 3):
            if word:
                yield word
            word = char
        else:
            word += char
    if word:
        yield word
