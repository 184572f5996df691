"""Every hook is specified with a docstring, documented in docs/plugins.md and tested.

A hook counts as tested when a test file has a ``hook``-marker comment naming it in
the test that exercises it (the marker is ``#``, ``hook:`` and the hook's name).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from crmkit.core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
PLUGIN_DOCS = ROOT / "docs" / "plugins.md"
MARKER = re.compile(r"#\s*hook:\s*([A-Za-z_][A-Za-z0-9_]*)")


def _hooks() -> list[str]:
    return sorted(
        name
        for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(obj, "crmkit_spec")
    )


HOOKS = _hooks()


def _tested_hooks() -> set[str]:
    found: set[str] = set()
    for path in TESTS.rglob("*.py"):
        if path.resolve() == Path(__file__).resolve():
            continue
        found.update(MARKER.findall(path.read_text("utf-8")))
    return found


def test_hooks_are_found() -> None:
    assert {"register_entity_types", "piccolo_app", "after_commit"} <= set(HOOKS)
    assert "hookimpl" not in HOOKS and "hookspec" not in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and len(doc) > 40, f"hookspec {hook} needs a docstring saying when it runs"


def test_every_hook_is_documented() -> None:
    assert PLUGIN_DOCS.exists(), f"{PLUGIN_DOCS.relative_to(ROOT)} is missing"
    headings = set(
        re.findall(r"^##\s+`?([A-Za-z_][A-Za-z0-9_]*)", PLUGIN_DOCS.read_text("utf-8"), re.M)
    )
    missing = [h for h in HOOKS if h not in headings]
    assert not missing, (
        f"hooks without a '## <name>' heading in docs/plugins.md: {', '.join(missing)}"
    )


def test_every_hook_has_a_test() -> None:
    tested = _tested_hooks()
    missing = [h for h in HOOKS if h not in tested]
    assert not missing, f"hooks without a '# hook: <name>' test: {', '.join(missing)}"


def test_hook_markers_name_real_hooks() -> None:
    unknown = sorted(_tested_hooks() - set(HOOKS))
    assert not unknown, f"'# hook:' markers naming no hookspec: {', '.join(unknown)}"
