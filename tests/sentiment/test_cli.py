"""``crisismon sentiment score | eval | train`` through argparse and as a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli.sentiment import register
from monitor.sentiment import SentimentScorer, exact_sentiment


def run(argv: list[str], stdin: bytes = b"", monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crisismon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code: int = args.func(args)
    return code


def test_score_writes_one_line_per_input_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["送餐太慢了", "hello", "", "很好吃[哈哈]", "天氣很好"]
    stdin = ("\n".join(lines) + "\n").encode()
    assert run(["sentiment", "score"], stdin, monkeypatch) == 0
    out = capsys.readouterr().out.split("\n")
    assert out[-1] == "" and len(out) == len(lines) + 1
    expected = SentimentScorer().score(lines)
    assert [float(x) if x else None for x in out[:-1]] == expected


def test_score_raw_is_snownlp_on_the_raw_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sentiment", "score", "--raw"], "好吃\r\nhello\n".encode(), monkeypatch) == 0
    assert capsys.readouterr().out.split() == [repr(exact_sentiment("好吃")), repr(exact_sentiment("hello"))]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [(b"", "no input"), ("好吃\n".encode("gbk") + b"\xff\n", "line 1 is not valid UTF-8")],
)
def test_score_input_errors(
    stdin: bytes, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sentiment", "score"], stdin, monkeypatch) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def _csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "labelled.csv"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = 'label,review\n1,很好吃，送餐也快\n1,味道不错\n0,太慢了，饭都凉了\n0,"难吃, 差评"\n'


def test_eval_prints_one_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sentiment", "eval", str(_csv(tmp_path, GOOD)), "--cut", "0.5"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["items"] == 4 and figures["scored"] == 4 and figures["cut"] == 0.5
    for key in ("accuracy", "balanced_accuracy", "roc_auc", "items_per_s"):
        assert key in figures


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text,label\n1,x\n", "expected the header 'label,review'"),
        ("label,review\n2,好\n", "labelled.csv:2: expected 'label,review' with label 0 or 1"),
        ("label,review\n", "no rows"),
    ],
)
def test_eval_bad_files(tmp_path: Path, body: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sentiment", "eval", str(_csv(tmp_path, body))]) == 2
    assert message in capsys.readouterr().err


def test_eval_missing_and_non_utf8_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sentiment", "eval", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "gbk.csv"
    bad.write_bytes("label,review\n1,好吃\n".encode("gbk"))
    assert run(["sentiment", "eval", str(bad)]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err


TRAIN_ROWS = [
    (0, "送餐太慢了，饭都凉了"),
    (0, "难吃，再也不点了"),
    (0, "汤洒了一半，差评"),
    (0, "等了两个小时才送到"),
    (0, "菜是冷的，很失望"),
    (0, "分量太少，不值这个价"),
    (0, "骑手态度很差"),
    (0, "米饭是夹生的"),
    (0, "送错了地址，打电话也不接"),
    (0, "太咸了，没法吃"),
    (0, "又慢又难吃"),
    (0, "包装破了，漏得到处都是"),
    (1, "很好吃，送餐也快"),
    (1, "味道不错，下次还点"),
    (1, "分量很足，很满意"),
    (1, "骑手很有礼貌"),
    (1, "送得很快，还是热的"),
    (1, "好吃不贵，推荐"),
    (1, "包装很用心，好评"),
    (1, "味道正宗，很喜欢"),
    (1, "老板人很好，送了饮料"),
    (1, "干净卫生，吃得放心"),
    (1, "一如既往的好吃"),
    (1, "超级好吃，五星好评"),
]


def _train_csv(tmp_path: Path, rows: list[tuple[int, str]] = TRAIN_ROWS) -> Path:
    return _csv(tmp_path, "label,review\n" + "".join(f"{label},{text}\n" for label, text in rows))


def test_train_reports_cross_validation_then_writes_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "team.model"
    assert run(["sentiment", "train", "--csv", str(_train_csv(tmp_path)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    figures = json.loads(printed[0])
    assert figures["rows"] == 24 and figures["negative"] == 12
    for key in ("cv_roc_auc", "cv_cut", "cv_balanced_accuracy_at_cut", "cv_balanced_accuracy_cut_from_other_folds"):
        assert 0 <= figures[key] <= 1
    assert printed[1].startswith(f"wrote {out}")
    scorer = SentimentScorer(model_path=out)
    assert scorer.negative_cut == figures["cv_cut"]
    [slow, tasty] = scorer.score(["太慢了", "很好吃"])
    assert slow is not None and tasty is not None and slow < tasty
    assert run(["sentiment", "eval", str(_train_csv(tmp_path)), "--model", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["cut"] == figures["cv_cut"]


def test_train_extend_keeps_the_shipped_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.sentiment import corpus

    base = corpus.own_rows()  # a small stand-in for the whole shipped data, to keep the test fast
    monkeypatch.setattr(corpus, "shipped_rows", lambda: (base, [1.0] * len(base)))
    out = tmp_path / "extended.model"
    assert run(["sentiment", "train", "--csv", str(_train_csv(tmp_path)), "--out", str(out), "--extend"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["rows"] == 24
    [fire] = SentimentScorer(model_path=out).score(["仓库起火，三人受伤"])  # learnt from the base rows only
    assert fire is not None and fire < 0.5


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(1, "好")] * 30, "every row is labelled positive (1): training needs both labels"),
        (TRAIN_ROWS[:3] + TRAIN_ROWS[-3:], "6 rows (3 negative, 3 positive): training needs at least 20 rows"),
    ],
)
def test_train_refuses_unusable_files_and_writes_nothing(
    tmp_path: Path, rows: list[tuple[int, str]], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.model"
    assert run(["sentiment", "train", "--csv", str(_train_csv(tmp_path, rows)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "labelled.csv" in err and message in err and "Traceback" not in err
    assert not out.exists()


def test_train_names_the_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = "label,review\n" + "".join(f"{label},{text}\n" for label, text in TRAIN_ROWS[:10])
    body += "positive,很好\n" + "".join(f"{label},{text}\n" for label, text in TRAIN_ROWS[10:])
    out = tmp_path / "never.model"
    assert run(["sentiment", "train", "--csv", str(_csv(tmp_path, body)), "--out", str(out)]) == 2
    assert "labelled.csv:12: expected 'label,review' with label 0 or 1, found ['positive', '很好']" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_train_snownlp_writes_a_snownlp_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.bin"
    assert run(["sentiment", "train", "--snownlp", "--csv", str(_csv(tmp_path, GOOD)), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    [slow, tasty] = SentimentScorer(model_path=out).score(["太慢了", "很好吃"])
    assert slow is not None and tasty is not None and slow < 0.5 < tasty
    assert (
        run(
            ["sentiment", "train", "--snownlp", "--csv", str(_csv(tmp_path, "label,review\n1,好\n")), "--out", str(out)]
        )
        == 2
    )
    assert "needs both labels" in capsys.readouterr().err


def test_bad_model_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model")
    assert run(["sentiment", "score", "--model", str(junk)], b"x\n", monkeypatch) == 2
    assert "not a SnowNLP" in capsys.readouterr().err


def test_module_entry_point() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "monitor.cli.sentiment", "score"],
        input="送餐太慢了\nhello\n".encode(),
        capture_output=True,
    )
    assert ok.returncode == 0 and len(ok.stdout.decode().split("\n")) == 3
    bad = subprocess.run([sys.executable, "-m", "monitor.cli.sentiment", "score"], input=b"\xff", capture_output=True)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr and b"UTF-8" in bad.stderr
