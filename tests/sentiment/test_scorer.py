"""SentimentScorer (what the daemon calls), the worker pool, metrics and training."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.sentiment import (
    DEFAULT_NEGATIVE_CUT,
    ScoringPool,
    SentimentScorer,
    exact_sentiment,
    is_negative,
    reference,
)
from monitor.sentiment import train as training
from monitor.sentiment.bayes import Bayes
from monitor.sentiment.dataset import Labelled, split
from monitor.sentiment.exact import ExactScorer
from monitor.sentiment.metrics import at_cut, best_cut, roc_auc


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    """SnowNLP-exact scoring (``scoring.model: snownlp``); the default model is in test_linear."""
    return SentimentScorer("snownlp")


def test_unscored_texts_are_none(scorer: SentimentScorer) -> None:
    assert scorer.score(["", "   ", "hello world", "😀😀", "http://t.cn/x", "@张三"]) == [None] * 6


def test_scores_cleaned_text_exactly(scorer: SentimentScorer) -> None:
    [value] = scorer.score(["<b>送餐太慢</b> http://t.cn/x @张三 "])
    assert value == exact_sentiment("送餐太慢")


def test_traditional_scores_like_simplified(scorer: SentimentScorer) -> None:
    assert scorer.score(["這家店的飯菜很難吃"]) == scorer.score(["这家店的饭菜很难吃"])


def test_emoticons_move_the_score_their_way(scorer: SentimentScorer) -> None:
    [plain, angry, happy] = scorer.score(["等了一个小时", "等了一个小时[怒]", "等了一个小时[哈哈]"])
    assert plain is not None and angry is not None and happy is not None
    assert angry < plain < happy
    dropping = SentimentScorer("snownlp", use_emoticons=False)
    assert dropping.score(["等了一个小时[泪]"]) == [plain]


def test_cache_is_bounded_and_transparent() -> None:
    small = SentimentScorer("snownlp", cache_size=2)
    texts = ["好吃", "难吃", "一般", "好吃"]
    assert small.score(texts) == [exact_sentiment(t) for t in texts]
    assert len(small._cache) == 2


def test_negative_cut() -> None:
    assert 0 < DEFAULT_NEGATIVE_CUT < 1
    assert is_negative(0.1) and not is_negative(0.9) and not is_negative(None)
    assert is_negative(0.55, cut=0.6)


def test_pool_scores_like_the_scorer(scorer: SentimentScorer) -> None:
    texts = ["送餐太慢了", "hello", "很好吃", ""] * 5
    with ScoringPool("snownlp", workers=1, chunk_size=3, max_pending=2) as pool:
        future = pool.submit(texts)
        assert future.result(timeout=120) == scorer.score(texts)
        assert pool.score([]) == []
    with ScoringPool(workers=1, chunk_size=3) as pool:
        assert pool.score(texts) == SentimentScorer().score(texts)


def test_metrics() -> None:
    labels = [0, 0, 1, 1]
    assert roc_auc(labels, [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc(labels, [0.5, 0.5, 0.5, 0.5]) == 0.5
    f = at_cut(labels, [0.1, 0.4, 0.35, 0.8], 0.38)
    assert (f.accuracy, f.recall_negative, f.recall_positive) == (0.5, 0.5, 0.5)
    assert best_cut(labels, [0.1, 0.2, 0.7, 0.8]).balanced_accuracy == 1.0


def test_training_counts_words_as_snownlp_does() -> None:
    neg = ["送餐太慢了，饭菜都凉了", "难吃，再也不点了", "差评"]
    pos = ["好吃，送餐快", "很满意，下次还点", "味道不错"]
    exact = ExactScorer()
    rows = [Labelled(0, t) for t in neg] + [Labelled(1, t) for t in pos]
    model = training.train(training.documents(rows, exact.words))
    expected = reference.train_words(neg, pos)
    assert {k: dict(c.counts) for k, c in model.classes.items()} == expected


def test_trained_model_round_trips_and_extends(tmp_path: Path) -> None:
    rows = [Labelled(0, "太慢了"), Labelled(1, "很快")]
    exact = ExactScorer()
    docs = training.documents(rows, exact.words)
    model = training.train(docs)
    path = tmp_path / "model.marshal"
    training.save(model, path)
    assert Bayes.load(path).classes == model.classes
    scorer = SentimentScorer(model_path=path)
    [slow] = scorer.score(["太慢了"])
    assert slow is not None and slow < 0.5
    base = exact.classifier
    extended = training.train(docs, base)
    assert extended.classes["neg"].total == base.classes["neg"].total + sum(
        n for n in model.classes["neg"].counts.values()
    ) - len(set(model.classes["neg"].counts) & set(base.classes["neg"].counts))


def test_split_is_stratified() -> None:
    rows = [Labelled(i % 3 == 0, str(i)) for i in range(300)]
    train_rows, test_rows = split(rows, 0.5)
    assert sum(r.label for r in test_rows) == 50 and len(test_rows) == 150
    assert not {r.text for r in train_rows} & {r.text for r in test_rows}
