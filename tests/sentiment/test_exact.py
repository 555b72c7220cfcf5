"""exact_sentiment against SnowNLP itself (the reference) and its recorded scores."""

from __future__ import annotations

import csv
import random

import pytest

from monitor.sentiment import exact_sentiment, reference
from monitor.sentiment.dataset import Labelled
from monitor.sentiment.exact import shared_segmenter
from tests.sentiment.conftest import DEV, generated_texts

TOLERANCE = 1e-9


def _assert_same(texts: list[str]) -> None:
    worst = max(texts, key=lambda t: abs(exact_sentiment(t) - reference.sentiments(t)))
    assert abs(exact_sentiment(worst) - reference.sentiments(worst)) < TOLERANCE, worst


def test_recorded_snownlp_scores_of_2000_dev_reviews(dev_rows: list[Labelled]) -> None:
    with (DEV / "snownlp-0.12.3_waimai_sample2000_seed0.csv").open(encoding="utf-8") as f:
        recorded = list(csv.DictReader(f))
    assert len(recorded) == 2000
    for row in recorded:
        text = dev_rows[int(row["row"])].text
        assert abs(exact_sentiment(text) - float(row["snownlp_sentiments"])) < TOLERANCE, text


def test_same_as_snownlp_on_generated_texts() -> None:
    _assert_same(generated_texts(300, seed=1))


def test_same_as_snownlp_on_dev_reviews(dev_rows: list[Labelled]) -> None:
    _assert_same([r.text for r in random.Random(2).sample(dev_rows, 150)])


@pytest.mark.parametrize(
    "text",
    ["", " ", "。", "😀😡", "abc def", "好", "龘靐齉", "天氣很好", "好吃！！不贵～\n下次再来", "差" * 300],
)
def test_same_as_snownlp_on_edge_cases(text: str) -> None:
    assert abs(exact_sentiment(text) - reference.sentiments(text)) < TOLERANCE


def test_same_words_as_snownlp() -> None:
    seg = shared_segmenter()
    for text in generated_texts(200, seed=3):
        assert seg.words(text) == reference.words(text), text


@pytest.mark.slow
def test_same_as_snownlp_on_thousands_of_texts(dev_rows: list[Labelled]) -> None:
    texts = generated_texts(2500, seed=4) + [r.text for r in random.Random(5).sample(dev_rows, 2500)]
    _assert_same(texts)


def test_fast_scorer_does_not_import_snownlp() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from monitor.sentiment import SentimentScorer, exact_sentiment;"
        "exact_sentiment('好'); SentimentScorer().score(['好']); SentimentScorer('snownlp').score(['好']);"
        "assert 'snownlp' not in sys.modules, 'snownlp imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
