"""Sentiment benchmark: SnowNLP against crisismon's exact scorer, on the same texts.

    python bench/sentiment.py [DATA_DIR] [--n 1500] [--experiments]

Prints items/s of ``SnowNLP(text).sentiments`` and of ``exact_sentiment`` on the same
distinct dev reviews, measured in alternating blocks in one run (so both see the same
machine load), their ratio, and the largest score difference. Throughput is per CPU
second of this process (one core) and, for reference, per wall-clock second.

``--experiments`` also prints the figures behind the defaults in docs/sentiment.md: the
negative cut chosen on one half of the dev data and checked on the other, the emoticon
experiment, and the gain of a model trained on one half, tested on the other.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.sentiment import emoticons, reference
from monitor.sentiment import train as training
from monitor.sentiment.bayes import Bayes
from monitor.sentiment.dataset import Labelled, read_labelled, split
from monitor.sentiment.exact import ExactScorer
from monitor.sentiment.lang import is_chinese
from monitor.sentiment.metrics import at_cut, best_cut, roc_auc
from monitor.sentiment.normalise import normalise
from monitor.sentiment.scorer import DEFAULT_NEGATIVE_CUT
from monitor.sentiment.snowdata import data_file

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "zh-sentiment-dev"
BLOCK = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=1500, help="distinct reviews to time (default 1500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--experiments", action="store_true")
    args = parser.parse_args()
    csv_path = args.data / "waimai_10k.csv"
    if not csv_path.is_file():
        print(f"bench: {csv_path} not found: give the zh-sentiment-dev directory", file=sys.stderr)
        return 2
    rows = read_labelled(csv_path)
    throughput(rows, args.n, args.seed)
    if args.experiments:
        experiments(rows)
    return 0


def throughput(rows: Sequence[Labelled], n: int, seed: int) -> None:
    texts = random.Random(seed).sample(sorted({r.text for r in rows if r.text}), n)
    loaded = _timed(lambda: ExactScorer())
    print(f"load: exact scorer {loaded[1]:.2f}s wall (snownlp import timed below)")
    ours = loaded[0]
    snow_import = _timed(lambda: reference.sentiments("预热"))[1]
    print(f"load: import snownlp {snow_import:.2f}s wall")
    ref: list[float] = []
    mine: list[float] = []
    cpu = {"snownlp": 0.0, "ours": 0.0}
    wall = {"snownlp": 0.0, "ours": 0.0}
    for i in range(0, len(texts), BLOCK):
        block = texts[i : i + BLOCK]
        for name, fn, out in (
            ("snownlp", reference.sentiments, ref),
            ("ours", ours.sentiment, mine),
        ):
            c0, w0 = time.process_time(), time.perf_counter()
            out.extend(fn(t) for t in block)
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
    chars = sum(map(len, texts))
    for name in ("snownlp", "ours"):
        print(
            f"{name:8s} {len(texts) / cpu[name]:8.1f} items/s  {chars / cpu[name]:9.0f} chars/s"
            f"  (wall: {len(texts) / wall[name]:.1f} items/s)"
        )
    print(f"ratio    {cpu['snownlp'] / cpu['ours']:.1f}x  (wall: {wall['snownlp'] / wall['ours']:.1f}x)")
    worst = max(abs(a - b) for a, b in zip(ref, mine, strict=True))
    print(f"max |difference| {worst:.3g} over {len(texts)} texts")


def experiments(rows: Sequence[Labelled]) -> None:
    calib, test = split(rows, test_share=0.5, seed=0)
    exact = ExactScorer()
    cut = _cut_experiment(calib, test, exact)
    _emoticon_experiment(test, exact, cut)
    _training_experiment(calib, test, exact, cut)


def _report(name: str, labels: list[int], scores: list[float], cuts: Sequence[float]) -> None:
    figures = {"auc": round(roc_auc(labels, scores), 4)}
    for c in cuts:
        f = at_cut(labels, scores, c)
        figures[f"acc@{c}"] = round(f.accuracy, 4)
        figures[f"bal@{c}"] = round(f.balanced_accuracy, 4)
    print(f"  {name:34s} {json.dumps(figures)}")


def _prepared(text: str, handle: Callable[[str], str]) -> str | None:
    clean = normalise(text)
    return handle(clean) if is_chinese(emoticons.strip_codes(clean)) else None


def _scores(rows: Sequence[Labelled], score: Callable[[str], float | None]) -> tuple[list[int], list[float]]:
    pairs = [(r.label, s) for r in rows if (s := score(r.text)) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _cut_experiment(calib: Sequence[Labelled], test: Sequence[Labelled], exact: ExactScorer) -> float:
    print(f"\nnegative cut: chosen on {len(calib)} reviews, tested on {len(test)} others")
    score = _normalised_scorer(exact, emoticons.codes_as_words)
    labels, scores = _scores(calib, score)
    best = best_cut(labels, scores)
    print(f"  best balanced accuracy on the calibration half at cut {best.cut}: {best.as_dict()}")
    raw_labels, raw_scores = _scores(test, exact.sentiment)
    cuts = sorted({0.5, best.cut, DEFAULT_NEGATIVE_CUT})
    _report("test half, raw text", raw_labels, raw_scores, cuts)
    labels, scores = _scores(test, score)
    _report("test half, normalised", labels, scores, cuts)
    return best.cut


def _normalised_scorer(exact: ExactScorer, handle: Callable[[str], str]) -> Callable[[str], float | None]:
    def score(text: str) -> float | None:
        prepared = _prepared(text, handle)
        return None if prepared is None else exact.sentiment(prepared)

    return score


def _emoticon_experiment(test: Sequence[Labelled], exact: ExactScorer, cut: float) -> None:
    codes = sum(bool(emoticons.CODE.search(r.text)) for r in test)
    print(f"\nemoticons: {codes} of {len(test)} test reviews contain a [code]")
    rng = random.Random(0)
    pos, neg = sorted(emoticons.POSITIVE), sorted(emoticons.NEGATIVE)

    def with_code(rows: Sequence[Labelled], agree: bool) -> list[Labelled]:
        out = []
        for r in rows:
            positive = (r.label == 1) == agree
            out.append(Labelled(r.label, f"{r.text}[{rng.choice(pos if positive else neg)}]"))
        return out

    handlers: dict[str, Callable[[str], str]] = {
        "kept as text (SnowNLP reads them)": lambda t: t,
        "dropped": emoticons.strip_codes,
        "mapped to polarity words": emoticons.codes_as_words,
    }
    for probe, rows in (
        ("dev text as is", list(test)),
        ("code agreeing with the label", with_code(test, True)),
        ("code contradicting the label", with_code(test, False)),
    ):
        print(f"  probe: {probe}")
        for name, handle in handlers.items():
            labels, scores = _scores(rows, _normalised_scorer(exact, handle))
            _report(name, labels, scores, [0.5, cut])


def _training_experiment(
    train_rows: Sequence[Labelled], test: Sequence[Labelled], exact: ExactScorer, cut: float
) -> None:
    print(f"\ntraining: {len(train_rows)} reviews to train on, {len(test)} to test")

    def words(text: str) -> list[str]:
        return exact.words(_prepared(text, emoticons.codes_as_words) or "")

    docs = training.documents(train_rows, words)
    base = Bayes.load(data_file("sentiment", "sentiment.marshal.3"))
    for name, model in (
        ("SnowNLP's model", base),
        ("trained on dev half only", training.train(docs)),
        ("SnowNLP's + dev half (--extend)", training.train(docs, base)),
    ):
        exact.classifier = model
        fit_labels, fit_scores = _scores(train_rows, _normalised_scorer(exact, emoticons.codes_as_words))
        own = best_cut(fit_labels, fit_scores).cut
        labels, scores = _scores(test, _normalised_scorer(exact, emoticons.codes_as_words))
        _report(f"{name} (own cut {own})", labels, scores, sorted({0.5, cut, own}))
    exact.classifier = base


def _timed(fn: Callable[[], object]) -> tuple[ExactScorer, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start  # type: ignore[return-value]


if __name__ == "__main__":
    sys.exit(main())
