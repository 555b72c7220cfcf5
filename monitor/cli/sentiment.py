"""``crisismon sentiment score | eval | train``.

``register(subparsers)`` adds the commands to the main parser; every handler returns an
exit code (0 ok, 2 bad usage or input) and reports problems as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from monitor.clock import monotonic
from monitor.sentiment import train as training
from monitor.sentiment.bayes import Bayes
from monitor.sentiment.dataset import read_labelled
from monitor.sentiment.errors import BadInput, SentimentError
from monitor.sentiment.exact import ExactScorer
from monitor.sentiment.metrics import at_cut, roc_auc
from monitor.sentiment.scorer import SNOWNLP_NEGATIVE_CUT, SentimentScorer, is_snownlp
from monitor.sentiment.snowdata import data_file

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the ``sentiment`` command and its sub-commands."""
    parser = subparsers.add_parser("sentiment", help="score, evaluate or train sentiment")
    commands = parser.add_subparsers(dest="sentiment_command", metavar="COMMAND", required=True)
    score = commands.add_parser("score", help="score stdin, one text per line, one score per line")
    _model_options(score)
    score.add_argument("--raw", action="store_true", help="score the raw text exactly as SnowNLP does")
    score.set_defaults(func=_guarded(run_score))
    ev = commands.add_parser("eval", help="accuracy of the scorer on a label,review CSV file")
    ev.add_argument("csv", metavar="FILE.csv")
    _model_options(ev)
    ev.add_argument("--cut", type=float, help="negative below this (default: the model's calibrated cut)")
    ev.add_argument("--raw", action="store_true", help="no normalisation (SnowNLP's own scores)")
    ev.set_defaults(func=_guarded(run_eval))
    tr = commands.add_parser("train", help="train a model on a label,review CSV file (cross-validated first)")
    tr.add_argument("--csv", required=True, metavar="FILE")
    tr.add_argument("--out", required=True, metavar="MODEL")
    tr.add_argument("--extend", action="store_true", help="train on top of the shipped training data")
    tr.add_argument("--snownlp", action="store_true", help="train SnowNLP's naive Bayes instead (SnowNLP format)")
    tr.set_defaults(func=_guarded(run_train))


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help="a model written by 'sentiment train', or 'snownlp' for SnowNLP's (default: the shipped model)"
    )
    parser.add_argument("--no-emoticons", dest="use_emoticons", action="store_false", help="drop [emoticon] codes")


def _guarded(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except SentimentError as exc:
            print(f"crisismon sentiment: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            return 0

    return run


def _scorer(args: argparse.Namespace) -> Callable[[Sequence[str]], list[float | None]]:
    if args.raw:
        exact = ExactScorer(None if args.model is None or is_snownlp(args.model) else args.model)
        args.model_cut = SNOWNLP_NEGATIVE_CUT
        return lambda texts: [exact.sentiment(t) for t in texts]
    scorer = SentimentScorer(args.model, args.use_emoticons, cache_size=0)
    args.model_cut = scorer.negative_cut
    return scorer.score


def read_lines(stream: TextIO | None = None) -> list[str]:
    """The lines of stdin, decoded as UTF-8; an error that says where, if they are not."""
    raw = (stream or sys.stdin).buffer.read()
    if not raw:
        raise BadInput("no input: give the texts on stdin, one per line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"stdin line {line} is not valid UTF-8 (byte {raw[exc.start]:#04x}): "
            "convert the input, e.g. iconv -f GB18030 -t UTF-8"
        ) from exc
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def run_score(args: argparse.Namespace) -> int:
    """One score per input line (17 significant digits), an empty line where not scored."""
    lines = read_lines()
    scores = _scorer(args)(lines)
    sys.stdout.write("".join(("" if s is None else repr(s)) + "\n" for s in scores))
    sys.stdout.flush()
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Prints one JSON line of figures for the scorer on a labelled file."""
    rows = read_labelled(args.csv)
    score = _scorer(args)
    started = _clock()
    scores = score([r.text for r in rows])
    elapsed = _clock() - started
    pairs = [(r.label, s) for r, s in zip(rows, scores, strict=True) if s is not None]
    if not pairs:
        raise BadInput(f"{args.csv}: none of the {len(rows)} rows is Chinese text the model scores")
    labels = [label for label, _ in pairs]
    values = [s for _, s in pairs]
    figures = {
        "model": args.model or "default",
        "items": len(rows),
        "scored": len(pairs),
        **at_cut(labels, values, args.cut if args.cut is not None else args.model_cut).as_dict(),
        "roc_auc": round(roc_auc(labels, values), 4) if 0 < sum(labels) < len(labels) else None,
        "items_per_s": round(len(rows) / elapsed, 1) if elapsed > 0 else None,
    }
    print(json.dumps(figures))
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Trains a model on a labelled file, prints cross-validated figures, writes it to ``--out``."""
    if args.snownlp:
        return _train_snownlp(args)
    from monitor.sentiment import linear
    from monitor.sentiment import training as linear_training
    from monitor.sentiment.corpus import shipped_rows

    rows = read_labelled(args.csv)
    linear_training.check_rows(args.csv, rows)
    base = shipped_rows() if args.extend else None
    print(
        f"training on {len(rows)} rows{' plus the shipped data' if base else ''}; "
        f"{linear_training.FOLDS}-fold cross-validation first...",
        file=sys.stderr,
    )
    model, report = linear_training.train(args.csv, rows, base)
    cut, honest = report.at_cut, report.honest
    print(
        json.dumps(
            {
                "rows": report.rows,
                "negative": report.negative,
                "positive": report.positive,
                "not_chinese_skipped": report.unscored,
                "cv_roc_auc": round(report.roc_auc, 4),
                "cv_cut": cut.cut,
                "cv_balanced_accuracy_at_cut": round(cut.balanced_accuracy, 4),
                "cv_balanced_accuracy_cut_from_other_folds": round(honest.balanced_accuracy, 4),
                "cv_recall_negative": round(honest.recall_negative, 4),
                "cv_recall_positive": round(honest.recall_positive, 4),
            }
        )
    )
    info = {"trained_on": str(args.csv), "rows": report.rows, "extend": bool(args.extend)}
    try:
        linear.save(linear.LinearModel(model.weights, model.bias, model.layers, model.cut, model.max_n, info), args.out)
    except OSError as exc:
        raise BadInput(f"cannot write the model to {args.out}: {exc.strerror}") from exc
    print(f"wrote {args.out} (negative cut {model.cut}): set scoring.model: {args.out} in the config")
    return 0


def _train_snownlp(args: argparse.Namespace) -> int:
    """SnowNLP's naive Bayes on the words SnowNLP's segmenter finds (``--snownlp``)."""
    rows = read_labelled(args.csv)
    scorer = SentimentScorer("snownlp", use_emoticons=True, cache_size=0)
    assert scorer.exact is not None
    words = scorer.exact.words

    def prepared_words(text: str) -> list[str]:
        return words(scorer.prepare(text) or "")

    base = Bayes.load(data_file("sentiment", "sentiment.marshal.3")) if args.extend else None
    model = training.train(training.documents(rows, prepared_words), base)
    training.save(model, args.out)
    neg = sum(r.label == 0 for r in rows)
    print(f"trained on {len(rows)} rows ({neg} negative, {len(rows) - neg} positive): wrote {args.out}")
    return 0


def _clock() -> float:
    """Elapsed-time clock for throughput figures only."""
    return monotonic()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m monitor.cli.sentiment sentiment score`` (also without ``sentiment``)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] != "sentiment":
        args_in = ["sentiment", *args_in]
    parser = argparse.ArgumentParser(prog="crisismon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(args_in)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
