"""`check` passes => `run` starts: every documented config key, given a wrong value, either fails
`crisismon check` with path:line naming the key, or `crisismon run --once` runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from monitor.cli import main
from monitor.config.yamlload import load_yaml

from .test_docs import DOCUMENTED

HASH = "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0MTI"
CLOSED = "http://127.0.0.1:9"  # nothing listens: polls fail at once

BASE: dict[str, Any] = {
    "database": "state/crisismon.db",
    "rules_dir": "rules",
    "playbooks_dir": "playbooks",
    "roster": "roster.yaml",
    "products": "products.yaml",
    "database_outage_limit": "5m",
    "evaluate_every": "1m",
    "deliver_every": "5s",
    "retention": "30d",
    "timezone": "Asia/Shanghai",
    "locale": "zh-CN",
    "bilingual": False,
    "communication": {
        "company": "示例公司",
        "hotline": "400-000-0000",
        "regions": ["上海", "江苏"],
        "approvers": ["crisis_lead", "legal", "spokesperson"],
    },
    "scoring": {"negative_below": 0.4, "model": None, "workers": 0},
    "notify": {
        "console": True,
        "slack": {
            "channel": "C0123",
            "token_env": "X_SLACK",
            "api_url": None,
            "min_interval": 1,
            "timeout": 10,
            "indexing_wait": 20,
            "webhook_env": "X_WEBHOOK",
            "operations_channel": "C0OPS",
            "routes": [
                {
                    "playbook": "product_quality",
                    "severity": ["high"],
                    "rule": "product-quality-complaint-surge",
                    "channel": "C0QUALITY",
                }
            ],
        },
    },
    "incidents": {
        "ack_timeout": "15m",
        "reminder_every": "30m",
        "check_every": "1m",
        "escalation": {"critical": {"ack_timeout": "5m", "chain": ["crisis_lead"]}},
        "direct_messages": True,
        "escalation_webhook": {"url_env": "X_PAGER", "timeout": "10s"},
    },
    "http": {
        "listen": "127.0.0.1:0",
        "token_env": "X_TOKEN",
        "intake_source": "intake",
        "max_body": 1000,
        "max_connections": 64,
        "read_timeout": "10s",
        "console": True,
        "auth": {
            "users": [{"login": "wangfang", "password_hash": HASH, "person": "王芳"}],
            "secret_env": "X_SECRET",
            "session_lifetime": "12h",
            "secure_cookie": True,
            "act_roles": ["crisis_lead"],
        },
    },
    "sources": [
        {
            "name": "news",
            "type": "rss",
            "url": f"{CLOSED}/rss",
            "interval": "5m",
            "timeout": "1s",
            "max_bytes": 1000,
            "expected_silence": "2h",
            "allow_cross_host_redirects": False,
            "allow_addresses": ["10.0.0.0/8"],
        },
        {"name": "jf", "type": "jsonfeed", "url": f"{CLOSED}/feed.json"},
        {"name": "weibo", "type": "rsshub", "instance": CLOSED, "route": "/weibo/keyword/x"},
        {
            "name": "api",
            "type": "json",
            "url": f"{CLOSED}/api",
            "mapping": {
                "items_path": "data",
                "id": "id",
                "title": "title",
                "text": "text",
                "url": "url",
                "published": "time",
                "published_format": "iso8601",
                "timezone": "Asia/Shanghai",
                "url_template": None,
                "html": True,
                "category": None,
                "attrs": {"region": "city"},
            },
        },
        {
            "name": "complaints",
            "type": "complaints_api",
            "url": f"{CLOSED}/c",
            "token_env": "X_CRM",
            "mode": "records",
            "since_param": "since",
            "mapping": {
                "items_path": "",
                "next": "next",
                "id": "id",
                "time": "time",
                "time_format": "auto",
                "timezone": "UTC",
                "text": "text",
                "category": "category",
                "attrs": {"product": "product"},
                "count": "count",
                "start": "start",
                "end": "end",
            },
        },
        {"name": "drop", "type": "file_drop", "path": "inbox", "format": "auto"},
    ],
}

# Values that have the right type but are wrong all the same.
SEMANTIC: dict[str, list[Any]] = {
    "timezone": ["Mars/Olympus"],
    "locale": ["fr"],
    "approvers": [["ceo"], []],
    "published_format": ["bogus"],
    "time_format": ["yesterday"],
    "model": ["models/missing.marshal"],
    "listen": ["127.0.0.1:99999", "no-port"],
    "interval": ["soon", "0s"],
    "retention": ["2h"],
    "session_lifetime": ["-5m"],
    "person": ["张三"],
    "act_roles": [["ceo"]],
    "route": ["no-slash"],
    "url": ["not a url"],
}


def leaves(data: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of ``data`` (mappings inside lists too)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found.append((*loc, key))
            if isinstance(value, dict | list) and key not in ("attrs",):
                found.extend(leaves(value, (*loc, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if isinstance(value, dict):
                found.extend(leaves(value, (*loc, index)))
    return found


def wrong_values(loc: tuple[Any, ...], current: Any) -> list[Any]:
    values: list[Any] = [{"wrong": [1]} if not isinstance(current, dict) else "oops"]
    if isinstance(current, bool | int | float):
        values.append("many")
    return values + SEMANTIC.get(str(loc[-1]), [])


def cases() -> list[tuple[tuple[Any, ...], Any]]:
    return [(loc, value) for loc in leaves(BASE) for value in wrong_values(loc, get(BASE, loc))]


def get(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def put(data: Any, loc: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(data)
    target = changed
    for part in loc[:-1]:
        target = target[part]
    target[loc[-1]] = value
    return changed


def write(folder: Path, data: dict[str, Any]) -> Path:
    (folder / "roster.yaml").write_text("people:\n  - {name: 王芳, roles: [crisis_lead]}\n", encoding="utf-8")
    (folder / "inbox").mkdir(exist_ok=True)
    (folder / "products.yaml").write_text("products:\n  - {name: 暖居 X3, aliases: [X3电暖器]}\n", encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    for name in ("rules", "playbooks"):
        if not (folder / name).exists():
            (folder / name).symlink_to(root / name)
    path = folder / "crisismon.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_base_config_documents_every_key_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = {str(loc[-1]) for loc in leaves(BASE)}
    models: list[type[BaseModel]] = [m for doc, m in DOCUMENTED if doc == "configuration.md"]
    missing = sorted({f"{m.__name__}.{f}" for m in models for f in m.model_fields if f not in keys})
    assert missing == [], "add these keys to BASE"
    path = write(tmp_path, BASE)
    assert main(["check", "--config", str(path)]) == 0, capsys.readouterr().err
    assert main(["run", "--once", "--config", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(("loc", "value"), cases(), ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else "")
def test_a_wrong_value_fails_check_with_its_line_or_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], loc: tuple[Any, ...], value: Any
) -> None:
    path = write(tmp_path, put(BASE, loc, value))
    code = main(["check", "--config", str(path)])
    err = capsys.readouterr().err
    if code == 0:  # check accepted it: run must start and do its work
        assert main(["run", "--once", "--config", str(path)]) == 0, capsys.readouterr().err
        return
    assert code == 2, err
    line = load_yaml(path).line_of(loc)
    dotted = ".".join(map(str, loc))
    problems = [p for p in err.splitlines() if p.startswith(f"{path}:")]
    assert problems, err
    assert any(p.startswith(f"{path}:{line}: ") and dotted in p for p in problems), (dotted, line, err)
    assert "Traceback" not in err
