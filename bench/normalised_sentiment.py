"""Does normalising text at ingest change the Chinese scorer's accuracy?

    python bench/normalised_sentiment.py --csv ../shared/data/zh-sentiment-dev/waimai_10k.csv

Scores every review of a ``label,review`` CSV (1 = positive) twice with the same scorer, as
written and as ingest hands it over (``monitor.text.normalise.for_scoring``: OpenCC t2s,
NFKC width folding, markup and links removed), and prints the balanced accuracy of each at
the default negative cut. The data path is an argument: the data stays out of the project.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.sentiment import DEFAULT_NEGATIVE_CUT, SentimentScorer
from monitor.text.normalise import for_scoring


def balanced_accuracy(labels: list[bool], scores: list[float | None], cut: float) -> tuple[float, int]:
    tp = tn = pos = neg = 0
    for positive, score in zip(labels, scores, strict=True):
        if score is None:
            continue
        if positive:
            pos += 1
            tp += score >= cut
        else:
            neg += 1
            tn += score < cut
    return (tp / pos + tn / neg) / 2, pos + neg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    ns = parser.parse_args()
    with ns.csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    labels = [r["label"] == "1" for r in rows]
    scorer = SentimentScorer()
    for name, texts in (
        ("as written", [r["review"] for r in rows]),
        ("normalised at ingest", [for_scoring("", r["review"]) for r in rows]),
    ):
        value, scored = balanced_accuracy(labels, scorer.score(texts), DEFAULT_NEGATIVE_CUT)
        print(f"{name:22} balanced accuracy {value:.4f} ({scored} scored of {len(rows)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
