"""Silences over the HTTP API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.store import SqlStore, open_store

from .test_api import World


@pytest.fixture
def world(store: SqlStore) -> Iterator[World]:
    w = World(store)
    yield w
    w.http.close()
    w.server.close()


def test_silences_over_http_hold_back_an_incident(world: World) -> None:
    created = world.http.post(
        "/v1/silences",
        headers=world.auth,
        json={"by": "王芳", "matchers": ["source=complaints"], "for": "2h", "comment": "新品发布会"},
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["state"] == "active" and silence["author"] == "王芳"
    incident_id = world.open_incident()
    assert world.notifier.delivered == []
    timeline = world.http.get(f"/v1/incidents/{incident_id}", headers=world.auth).json()["timeline"]
    assert [t["detail"]["comment"] for t in timeline if t["kind"] == "silenced"] == ["新品发布会"]
    listed = world.http.get("/v1/silences", headers=world.auth).json()
    assert [s["id"] for s in listed] == [silence["id"]]
    ended = world.http.delete(f"/v1/silences/{silence['id']}?by=李强", headers=world.auth)
    assert ended.status_code == 200 and ended.json()["state"] == "ended" and ended.json()["ended_by"] == "李强"
    assert world.http.get("/v1/silences", headers=world.auth).json() == []
    assert len(world.http.get("/v1/silences?all=1", headers=world.auth).json()) == 1
    again = world.http.delete(f"/v1/silences/{silence['id']}", headers=world.auth)
    assert again.status_code == 409 and "already ended" in again.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "rule=x for 2h why"}, 'non-empty "by"'),
        ({"by": "li", "matchers": "rule=x", "for": "2h", "comment": "c"}, "list of strings"),
        ({"by": "li", "matchers": ["rule=x"], "for": 2, "comment": "c"}, '"for" must be a string'),
        ({"by": "li", "matchers": ["rule=x"], "for": "2h"}, "say why in a comment"),
        ({"by": "li", "text": "rule=x for 2h <@U0123> <!channel>"}, None),
    ],
)
def test_bad_silence_requests_are_refused(world: World, body: dict[str, object], message: str | None) -> None:
    response = world.http.post("/v1/silences", headers=world.auth, json=body)
    if message is None:  # hostile mention syntax is kept as text: it is only shown, never posted
        assert response.status_code == 201 and response.json()["comment"] == "<@U0123> <!channel>"
        return
    assert response.status_code == 400 and message in response.json()["error"]
    assert world.http.get("/v1/silences", headers=world.auth).json() == []


def test_silences_need_the_token(world: World) -> None:
    assert world.http.get("/v1/silences").status_code == 401
    assert world.http.delete("/v1/silences/1").status_code == 401


def test_silence_cli_adds_lists_and_expires(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.db")
    open_store(db).close()
    assert (
        main(
            [
                "silence",
                "add",
                "playbook=product_quality",
                "--for",
                "3h",
                "--from",
                "2030-01-01T09:00+08:00",
                "--comment",
                "发布会",
                "--db",
                db,
                "--by",
                "王芳",
            ]
        )
        == 0
    )
    assert "[pending] playbook=product_quality from 2030-01-01 01:00" in capsys.readouterr().out
    assert main(["silence", "list", "--json", "--db", db]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["author"] == "王芳"
    assert main(["silence", "expire", "1", "--db", db, "--by", "李强"]) == 0
    assert "(ended by 李强)" in capsys.readouterr().out
    assert main(["silence", "list", "--db", db]) == 0
    assert capsys.readouterr().out.endswith("no silences\n")
    assert main(["silence", "add", "colour=red", "--for", "1h", "--comment", "x", "--db", db]) == 2
    assert "unknown label 'colour'" in capsys.readouterr().err
    assert main(["silence", "expire", "7", "--db", db]) == 2
    assert "no silence 7" in capsys.readouterr().err
