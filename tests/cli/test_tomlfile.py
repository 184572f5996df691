"""The crmkit.toml writer: what it writes reads back the same."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from crmkit.cli import tomlfile
from crmkit.core import SettingsError


def test_simple_document() -> None:
    data = {"plugin": {"individuals": {"x": 1}}, "plugins": ["a", "b"], "auth": False}
    assert tomlfile.dumps(data) == (
        'plugins = ["a", "b"]\nauth = false\n\n[plugin.individuals]\nx = 1\n'
    )


def test_round_trip() -> None:
    data = {
        "database_url": "postgresql://crm@db:5432/crm",
        "quoted": 'a "b" \\ c\n\td\x01e — ø',
        "page_size": -20,
        "busy": 30.0,
        "tiny": 1e-05,
        "on": True,
        "when": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2030, 1, 2),
        "local": dt.datetime(2030, 1, 2, 3, 4),
        "nested": [[1, 2], ["x"]],
        "empty": [],
        "odd key": {"with.dot": "v"},
        "plugin": {
            "individuals": {"region": "NO", "labels": ["home", "work"]},
            "tickets": {"sla": {"hours": 8}},
            "blank": {},
        },
        "hooks": [{"url": "https://a", "events": ["x"], "meta": {"k": 1}}, {"url": "https://b"}],
        "mixed": [{"a": 1}, 2],
    }
    assert tomllib.loads(tomlfile.dumps(data)) == data


def test_write_and_read(tmp_path: Path) -> None:
    path = tmp_path / "crmkit.toml"
    assert tomlfile.read(path) == {}
    tomlfile.write(path, {"plugins": ["x"]})
    assert tomlfile.read(path) == {"plugins": ["x"]}
    assert [p.name for p in tmp_path.iterdir()] == ["crmkit.toml"]


def test_write_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "crmkit.toml"
    path.write_text("x = 1\n")
    with pytest.raises(SettingsError):
        tomlfile.write(path, {"x": {1, 2}})
    with pytest.raises(SettingsError):
        tomlfile.write(path, {"x": float("nan")})  # would not read back equal
    assert path.read_text() == "x = 1\n"


def test_read_reports_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "crmkit.toml"
    path.write_text("x = \n")
    with pytest.raises(SettingsError, match=r"crmkit\.toml"):
        tomlfile.read(path)
