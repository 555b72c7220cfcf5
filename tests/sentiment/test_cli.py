"""``crisismon sentiment score | eval | train`` through argparse and as a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.sentiment import SentimentScorer, exact_sentiment
from monitor.sentiment.cli import register


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


def test_train_writes_a_model_that_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.bin"
    assert run(["sentiment", "train", "--csv", str(_csv(tmp_path, GOOD)), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    [slow, tasty] = SentimentScorer(model_path=out).score(["太慢了", "很好吃"])
    assert slow is not None and tasty is not None and slow < 0.5 < tasty
    assert run(["sentiment", "train", "--csv", str(_csv(tmp_path, "label,review\n1,好\n")), "--out", str(out)]) == 2
    assert "needs both labels" in capsys.readouterr().err


def test_bad_model_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model")
    assert run(["sentiment", "score", "--model", str(junk)], b"x\n", monkeypatch) == 2
    assert "not a SnowNLP" in capsys.readouterr().err


def test_module_entry_point() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "monitor.sentiment.cli", "score"],
        input="送餐太慢了\nhello\n".encode(),
        capture_output=True,
    )
    assert ok.returncode == 0 and len(ok.stdout.decode().split("\n")) == 3
    bad = subprocess.run([sys.executable, "-m", "monitor.sentiment.cli", "score"], input=b"\xff", capture_output=True)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr and b"UTF-8" in bad.stderr
