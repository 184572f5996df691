"""``crmkit serve``: checks first, then uvicorn with the app factory (uvicorn is faked)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import uvicorn

from tests.core_migrations import core_migrations_of

from .output import Invoke


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(app: str, **options: Any) -> None:
        calls.append({"app": app, **options, "env": os.environ.get("CRMKIT_DATABASE_URL")})

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def test_serve(invoke: Invoke, database: str, served: list[dict[str, Any]]) -> None:
    assert invoke("migrate").exit_code == 0
    result = invoke("serve", "--port", "8123", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert served == [
        {
            "app": "crmkit.core.api.app:create_app",
            "factory": True,
            "host": "127.0.0.1",
            "port": 8123,
            "workers": 2,
            "reload": False,
            "env": database,
        }
    ]


def test_serve_passes_options_to_workers(
    invoke: Invoke, tmp_path, served: list[dict[str, Any]]
) -> None:
    url = f"sqlite:///{tmp_path}/other.db"
    result = invoke("--database-url", url, "serve", "--reload", "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    pending = len(core_migrations_of(url))  # core's, all of them: the database is new
    assert result.stderr == f"warning: {pending} migration(s) not applied; run `crmkit migrate`\n"
    assert (served[0]["env"], served[0]["host"], served[0]["reload"]) == (url, "0.0.0.0", True)


def test_serve_refuses_reload_with_workers(invoke: Invoke, served: list[dict[str, Any]]) -> None:
    assert invoke("serve", "--reload", "--workers", "2").exit_code == 2
    assert served == []


def test_serve_checks_the_database(invoke: Invoke, served: list[dict[str, Any]]) -> None:
    result = invoke("--database-url", "postgresql://postgres@127.0.0.1:1/x", "serve")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot reach the database at ")
    assert served == []
