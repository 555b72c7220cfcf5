"""How well near-duplicates are grouped into stories, on written examples.

    python bench/stories.py [--examples tests/fixtures/stories.yaml] [--folds 5]

The examples file lists stories, each a list of texts that are copies of one original;
texts of different stories are different voices (including similar complaints about the
same defect). Every pair of texts is labelled same-story or not.

1. Threshold by cross-validation: the stories are split into ``--folds`` folds; for each,
   the similarity threshold with the best F1 on the pairs of the other folds is chosen and
   applied to the pairs of the held-out fold. The pooled held-out precision and recall are
   the figures to quote (the threshold never saw those pairs).
2. The shipped threshold (``SAME_STORY``) run the way ingest runs it: texts arrive one by
   one and each joins the first story it matches, else starts one. Pairwise precision and
   recall of that grouping (dev figure: the shipped threshold was chosen on these examples).
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.text.normalise import for_matching
from monitor.text.stories import SAME_STORY, Core, core_of, same_story

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(14)]


def load(path: Path) -> list[list[Core]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [[core_of(for_matching(str(t))) for t in story] for story in data["stories"]]


def decide(a: Core, b: Core, threshold: float) -> bool:
    return same_story(b, a.text, complaint=False, threshold=threshold) or same_story(
        a, b.text, complaint=False, threshold=threshold
    )


def pairs(stories: list[list[Core]], groups: list[int]) -> list[tuple[Core, Core, bool]]:
    items = [(g, c) for g in groups for c in stories[g]]
    return [(a, b, ga == gb) for (ga, a), (gb, b) in itertools.combinations(items, 2)]


def counts(labelled: list[tuple[Core, Core, bool]], threshold: float) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for a, b, same in labelled:
        said = decide(a, b, threshold)
        tp += said and same
        fp += said and not same
        fn += same and not said
    return tp, fp, fn


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def choose(labelled: list[tuple[Core, Core, bool]]) -> float:
    """The middle of the thresholds with the best F1 (a plateau's middle, not its edge)."""
    scores = {t: f1(*counts(labelled, t)) for t in THRESHOLDS}
    best = [t for t in THRESHOLDS if scores[t] == max(scores.values())]
    return best[(len(best) - 1) // 2]


def cross_validate(stories: list[list[Core]], folds: int, seed: int = 0) -> tuple[int, int, int, list[float]]:
    order = list(range(len(stories)))
    random.Random(seed).shuffle(order)
    parts = [order[i::folds] for i in range(folds)]
    tp = fp = fn = 0
    chosen = []
    for held in parts:
        train = [g for g in order if g not in held]
        train_pairs = pairs(stories, train)
        best = choose(train_pairs)
        chosen.append(best)
        a, b, c = counts(pairs(stories, held), best)
        tp, fp, fn = tp + a, fp + b, fn + c
    return tp, fp, fn, chosen


def sequential(stories: list[list[Core]], threshold: float) -> tuple[int, int, int]:
    """Group the texts as ingest does (in order, interleaved across stories), count pairs."""
    arrivals = [
        (g, c) for i in range(max(map(len, stories))) for g, s in enumerate(stories) if i < len(s) for c in [s[i]]
    ]
    made: list[tuple[str, int]] = []  # (story core, id)
    assigned = []
    for group, core in arrivals:
        story = next((sid for text, sid in made if same_story(core, text, complaint=False, threshold=threshold)), None)
        if story is None:
            story = len(made)
            made.append((core.text, story))
        assigned.append((group, story))
    tp = fp = fn = 0
    for (ga, sa), (gb, sb) in itertools.combinations(assigned, 2):
        tp += ga == gb and sa == sb
        fp += ga != gb and sa == sb
        fn += ga == gb and sa != sb
    return tp, fp, fn


def show(label: str, tp: int, fp: int, fn: int) -> None:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"{label}: precision {precision:.3f}, recall {recall:.3f} (pairs: {tp} right, {fp} wrongly merged, {fn} missed)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=Path, default=ROOT / "tests" / "fixtures" / "stories.yaml")
    parser.add_argument("--folds", type=int, default=5)
    ns = parser.parse_args()
    stories = load(ns.examples)
    texts = sum(map(len, stories))
    print(f"{len(stories)} stories, {texts} texts, {texts * (texts - 1) // 2} pairs")
    tp, fp, fn, chosen = cross_validate(stories, ns.folds)
    show(f"cross-validated ({ns.folds} folds, thresholds chosen {chosen})", tp, fp, fn)
    print(f"threshold chosen on all the examples: {choose(pairs(stories, list(range(len(stories)))))}")
    show(f"ingest order, shipped threshold {SAME_STORY} (dev)", *sequential(stories, SAME_STORY))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
