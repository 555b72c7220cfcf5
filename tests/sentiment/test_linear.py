"""The default model: features, file format, scores users notice, the crisis layer, training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.sentiment import DEFAULT_NEGATIVE_CUT, SentimentScorer, linear, negative_cut_for
from monitor.sentiment.crisis import count_terms, read_lexicon
from monitor.sentiment.dataset import Labelled, read_labelled
from monitor.sentiment.errors import BadInput
from monitor.sentiment.features import ngram_pairs, prepare
from monitor.sentiment.learn import Design, fit, lbfgs, train_model
from monitor.sentiment.metrics import at_cut, roc_auc
from monitor.sentiment.scorer import model_problem

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return SentimentScorer()


def test_crisis_text_scores_clearly_negative(scorer: SentimentScorer) -> None:
    fire, flood = scorer.score(["电暖器起火，孩子被烫伤送医院了", "暴雨洪水淹了暖居杭州第0门店，员工被困，等待救援"])
    assert fire is not None and fire < 0.2
    assert flood is not None and flood < 0.2


def test_ordinary_text_reads_its_way(scorer: SentimentScorer) -> None:
    good, bad, praise = scorer.score(["电暖器很好用，冬天很暖和", "客服态度太差了，再也不买了", "物流很快，包装也好"])
    assert good is not None and bad is not None and praise is not None
    assert bad < DEFAULT_NEGATIVE_CUT < min(good, praise)


def test_unscored_and_normalised_text(scorer: SentimentScorer) -> None:
    assert (
        scorer.score(["", "  ", "hello world", "😀", "http://t.cn/x", "@张三", "このラーメンは美味しい"]) == [None] * 7
    )
    assert scorer.score(["這家店的飯菜很難吃"]) == scorer.score(["这家店的饭菜很难吃"])
    assert scorer.score(["<b>送餐太慢</b> http://t.cn/x //@张三: "]) == scorer.score(["送餐太慢"])
    long = "差" * 10_000 + "\0" + "🙂" * 100
    [value] = scorer.score([long])
    assert value is not None and 0 <= value <= 1


def test_emoticons_move_the_score_their_way(scorer: SentimentScorer) -> None:
    plain, angry, happy = scorer.score(["等了一个小时", "等了一个小时[怒]", "等了一个小时[哈哈]"])
    assert plain is not None and angry is not None and happy is not None
    assert angry < plain < happy
    assert SentimentScorer(use_emoticons=False).score(["等了一个小时[哈哈]"]) == [plain]


def test_batch_scores_equal_one_by_one(scorer: SentimentScorer) -> None:
    texts = ["送餐太慢了", "hello", "很好吃", "", "火灾", "好"]
    assert scorer.score(texts) == [scorer.score_one(t) for t in texts]


def test_default_cut_is_the_shipped_models() -> None:
    assert linear.load().cut == DEFAULT_NEGATIVE_CUT == negative_cut_for(None)
    assert negative_cut_for("snownlp") == 0.43


def test_ngrams_never_span_texts_and_hash_stably() -> None:
    together = ngram_pairs(["ab", "cd"], 19, 3)
    a, b = ngram_pairs(["ab"], 19, 3), ngram_pairs(["cd"], 19, 3)
    assert together[2].tolist() == [3, 3]
    assert sorted(together[1][together[0] == 0].tolist()) == sorted(a[1].tolist())
    assert sorted(together[1][together[0] == 1].tolist()) == sorted(b[1].tolist())
    # the buckets are part of the model file format: a change here breaks every saved model
    assert ngram_pairs(["好"], 19, 3)[1].tolist() == [GOOD_BUCKET]


GOOD_BUCKET = 110705


def test_crisis_lexicon_counts_distinct_terms(tmp_path: Path) -> None:
    assert count_terms("仓库起火，起火原因不明，两人受伤") == 2
    assert count_terms("味道不错，送餐很快") == 0
    assert prepare("門店起火[怒]") is not None
    bad = tmp_path / "terms.txt"
    bad.write_text("# terms\n起火\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"terms.txt:2: found the term '起火' before any \[category\]"):
        read_lexicon(bad)
    bad.write_text("[fire]\n起 火\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"terms.txt:2: .*one term per line"):
        read_lexicon(bad)


def test_model_file_round_trips_and_refuses_damage(tmp_path: Path) -> None:
    model = linear.LinearModel(np.arange(1 << 10, dtype=np.float32) / 1000, 0.25, (1.0, -1.0, -0.5), 0.4, 3, {"x": 1})
    path = tmp_path / "m.model"
    linear.save(model, path)
    back = linear.load(path)
    assert np.array_equal(back.weights, model.weights) and back.layers == model.layers and back.cut == 0.4
    assert back.info == {"x": 1} and linear.to_bytes(back) == path.read_bytes()
    blob = path.read_bytes()
    path.write_bytes(blob[:-10])
    with pytest.raises(linear.BadModel, match=rf"{path}: .*corrupt or cut short"):
        linear.load(path)
    flipped = bytearray(blob)
    flipped[-5] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert "corrupt" in (model_problem(str(path)) or "")
    header_end = blob.index(b"\n", len(linear.MAGIC))
    header = json.loads(blob[len(linear.MAGIC) : header_end])
    header["format"] = 99
    path.write_bytes(linear.MAGIC + json.dumps(header).encode() + blob[header_end:])
    with pytest.raises(linear.BadModel, match="format version 99, this crisismon reads version 1"):
        linear.load(path)
    assert model_problem(str(tmp_path / "missing.model")) is not None
    assert model_problem("snownlp") is None and model_problem(None) is None


def test_lbfgs_finds_the_minimum() -> None:
    target = np.array([3.0, -2.0, 0.5])
    scale = np.array([1.0, 10.0, 100.0])

    def quadratic(x: np.ndarray) -> tuple[float, np.ndarray]:
        d = x - target
        return float(np.sum(scale * d * d)), 2 * scale * d

    assert np.allclose(lbfgs(quadratic, np.zeros(3)), target, atol=1e-4)


def test_logistic_regression_gradient_is_zero_at_the_fit() -> None:
    texts = ["好吃", "很好吃", "不错", "难吃", "太难吃了", "很差", "一般般", "好评"]
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    prepared = [prepare(t) for t in texts]
    assert all(p is not None for p in prepared)
    design = Design.build([p for p in prepared if p is not None], 10, 2)
    w, b, _layers = fit(design, labels, np.ones(8), c=1.0, max_iter=500)
    z = b + np.bincount(design.rows, weights=design.vals * w[design.cols], minlength=8)
    r = 1 / (1 + np.exp(-z)) - labels
    grad = np.bincount(design.cols, weights=design.vals * r[design.rows], minlength=1 << 10) + w
    assert abs(r.sum()) < 1e-3 and np.max(np.abs(grad)) < 1e-3


def test_trained_model_learns_a_new_word() -> None:
    rows = [Labelled(0, f"这次又{w}了") for w in ("翻车", "翻车啦", "翻车咯")] + [
        Labelled(1, f"这次又{w}了") for w in ("起飞", "起飞啦", "起飞咯")
    ]
    prepared = [p for r in rows if (p := prepare(r.text)) is not None]
    model = train_model(prepared, [r.label for r in rows], c=10.0, bits=12)
    crash, soar = model.probabilities([p for p in (prepare("翻车"), prepare("起飞")) if p is not None])
    assert crash < 0.5 < soar


def _figures(scorer: SentimentScorer, rows: list[Labelled]) -> tuple[float, float, float]:
    scores = scorer.score([r.text for r in rows])
    pairs = [(r.label, s) for r, s in zip(rows, scores, strict=True) if s is not None]
    labels, values = [p[0] for p in pairs], [p[1] for p in pairs]
    cut = at_cut(labels, values, scorer.negative_cut)
    return roc_auc(labels, values), cut.balanced_accuracy, cut.recall_negative


def test_own_test_sentences_never_trained_on(scorer: SentimentScorer) -> None:
    """The held-back crisis/complaint and social sentences (docs/sentiment.md has the figures)."""
    crisis = read_labelled(DATA / "crisis_complaints_test.csv")
    social = read_labelled(DATA / "social_posts_test.csv")
    assert len(crisis) >= 300
    auc, balanced, recall_neg = _figures(scorer, crisis)
    snow_auc, _, snow_recall = _figures(SentimentScorer("snownlp"), crisis)
    assert auc > 0.9 and balanced > 0.75 and recall_neg > 0.9
    assert auc > snow_auc + 0.1 and recall_neg > snow_recall + 0.1
    auc, balanced, _ = _figures(scorer, social)
    assert auc > 0.95 and balanced > 0.9


def test_dev_data_beats_snownlp(dev_rows: list[Labelled], scorer: SentimentScorer) -> None:
    auc, balanced, _ = _figures(scorer, dev_rows)
    snow_auc, snow_balanced, _ = _figures(SentimentScorer("snownlp"), dev_rows)
    assert auc > snow_auc + 0.02 and balanced > snow_balanced + 0.02


def test_text_normalised_at_ingest_scores_like_raw_text(scorer: SentimentScorer) -> None:
    """Ingest may fold full-width forms and convert to simplified first: same scores either way."""
    raw = ["電暖器起火！孩子被燙傷［怒］", "服务很好，ＯＫ！"]
    normalised = ["电暖器起火!孩子被烫伤[怒]", "服务很好,OK!"]
    assert scorer.score(raw) == scorer.score(normalised)
