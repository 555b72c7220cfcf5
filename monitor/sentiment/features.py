"""What the linear model sees: hashed character n-grams plus a few counted layers.

``prepare(text)`` normalises the text (full-width forms to half-width, then ``normalise``:
markup, links, mentions, traditional to simplified), counts Weibo emoticon codes by polarity
and crisis terms (``crisis``), and returns the text without the codes.
``ngram_pairs(texts)`` hashes the character 1..n-grams of many texts at once with numpy and
returns the distinct (text, bucket) pairs: the model's features are binary, each text's
vector scaled to unit length.

The hash is a fixed 64-bit multiply-xorshift mix of the code points, the same on every
platform and Python version (Python's own ``hash`` of a string is salted per process).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.sentiment import crisis, emoticons
from monitor.sentiment.lang import is_chinese
from monitor.sentiment.normalise import normalise

EXTRAS = ("emoticons_positive", "emoticons_negative", "crisis_terms")
"""The counted layers, in the order of ``Prepared.extras`` and of the model's layer weights."""
CAPS = (3, 3, 3)
"""Counts above these add nothing more."""

_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_STEP = np.uint64(0x100000001B3)
_SEEDS = tuple(np.uint64((0x9E3779B97F4A7C15 * (n + 1)) % 2**64) for n in range(8))
_S33 = np.uint64(33)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A text as the linear model reads it."""

    text: str
    extras: tuple[int, int, int]


_HALF_WIDTH = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20, 0: 0x20}
"""Full-width ASCII forms (，！？Ａ１...) to half-width, ideographic space to space, NUL to space."""


def prepare(text: str, use_emoticons: bool = True) -> Prepared | None:
    """The text to score and its layer counts, or None when it is not Chinese (not scored).

    Full-width forms are folded to half-width here, for training and scoring alike, so that
    text normalised at ingest (full-width -> half-width) and raw text score the same."""
    clean = normalise(text.translate(_HALF_WIDTH))
    bare = emoticons.strip_codes(clean)
    if not is_chinese(bare):
        return None
    pos, neg = emoticons.polarity_counts(clean) if use_emoticons else (0, 0)
    return Prepared(bare, (min(pos, CAPS[0]), min(neg, CAPS[1]), min(crisis.count_terms(bare), CAPS[2])))


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = h ^ (h >> _S33)
    h = h * _MIX1
    h = h ^ (h >> _S33)
    h = h * _MIX2
    return h ^ (h >> _S33)


def ngram_pairs(
    texts: Sequence[str], bits: int, max_n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(text index, bucket) of every distinct hashed n-gram, and the number of them per text.

    Buckets are in ``[0, 2**bits)``; n-grams are 1..``max_n`` characters long and never span
    two texts. Texts must not contain NUL (``prepare`` removes it).
    """
    n_docs = len(texts)
    if n_docs == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    joined = "\0" + "\0".join(texts) + "\0"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    is_sep = codes == 0
    doc_of = np.cumsum(is_sep) - 1  # separator k opens text k
    seps = np.concatenate(([0], np.cumsum(is_sep)))  # seps[i] = separators before position i
    length = len(codes)
    docs: list[npt.NDArray[np.int64]] = []
    buckets: list[npt.NDArray[np.uint64]] = []
    shift = np.uint64(64 - bits)
    for n in range(1, max_n + 1):
        if length < n:
            break
        starts = np.arange(length - n + 1)
        ok = seps[starts + n] - seps[starts] == 0
        h = np.full(length - n + 1, _SEEDS[n], dtype=np.uint64)
        for k in range(n):
            h = (h ^ codes[k : length - n + 1 + k]) * _STEP
        docs.append(doc_of[starts[ok]])
        buckets.append(_mix(h[ok]) >> shift)
    keys = (np.concatenate(docs).astype(np.uint64) << np.uint64(bits)) | np.concatenate(buckets)
    keys.sort()  # sort and drop repeats: faster than np.unique, which hashes in numpy 2
    unique = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
    doc = (unique >> np.uint64(bits)).astype(np.int64)
    bucket = (unique & np.uint64((1 << bits) - 1)).astype(np.int64)
    counts = np.bincount(doc, minlength=n_docs).astype(np.int64)
    return doc, bucket, counts
