"""The segmentation model's tables, as the segmenter reads them and the table cache stores them."""

from __future__ import annotations

import marshal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Seen = tuple[float, ...]
"""Transitions the model saw for some characters, flattened: (code, log-probability, ...).
The code of a bigram transition is ``4 * previous tag + tag``, of a trigram one
``16 * tag two back + 4 * previous tag + tag``."""


@dataclass(frozen=True)
class SegTables:
    """The segmentation model, keyed by small integers.

    Character index 0 is the begin-of-sentence marker (it has one tag, 0); the last index
    stands for every character the model does not know. ``log_uni[4 * char + tag]`` is the
    log-probability of a transition the model never saw; ``bigram[n * b + c]`` and
    ``trigram[(n * a + b) * n + c]`` list the transitions it saw for those characters.
    """

    chars: str
    valid_tags: tuple[tuple[int, ...], ...]
    log_uni: tuple[float, ...]
    bigram: Mapping[int, Seen]
    trigram: Mapping[int, Seen]

    def to_bytes(self) -> bytes:
        data: Any = (FORMAT, self.chars, self.valid_tags, self.log_uni, self.bigram, self.trigram)
        return marshal.dumps(data)

    @classmethod
    def from_bytes(cls, blob: bytes) -> SegTables:
        data = marshal.loads(blob)
        if not isinstance(data, tuple) or data[0] != FORMAT:
            raise ValueError("not a segmentation table file of this version")
        return cls(*data[1:])


FORMAT = "crisismon-seg-1"
