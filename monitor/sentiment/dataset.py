"""Labelled review files: UTF-8 CSV with a ``label,review`` header, label 1 = positive."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.sentiment.errors import BadInput


@dataclass(frozen=True)
class Labelled:
    """One review and its label (1 = positive, 0 = negative)."""

    label: int
    text: str


def read_labelled(path: str | Path) -> list[Labelled]:
    """All rows of a labelled CSV file, checked."""
    text = _read_text(Path(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["label", "review"]:
        raise BadInput(f"{path}:1: expected the header 'label,review', found {header!r}")
    rows: list[Labelled] = []
    for row in reader:
        if not row:
            continue
        if len(row) < 2 or row[0].strip() not in ("0", "1"):
            raise BadInput(f"{path}:{reader.line_num}: expected 'label,review' with label 0 or 1, found {row[:2]!r}")
        rows.append(Labelled(int(row[0]), row[1]))
    if not rows:
        raise BadInput(f"{path}: no rows after the header")
    return rows


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadInput(f"{path}:{line}: not valid UTF-8: convert the file to UTF-8") from exc


def split(rows: Sequence[Labelled], test_share: float, seed: int = 0) -> tuple[list[Labelled], list[Labelled]]:
    """A stratified (train, test) split, reproducible from ``seed``."""
    rng = random.Random(seed)
    train: list[Labelled] = []
    test: list[Labelled] = []
    for label in (0, 1):
        group = [r for r in rows if r.label == label]
        rng.shuffle(group)
        k = round(len(group) * test_share)
        test.extend(group[:k])
        train.extend(group[k:])
    return train, test
