"""Every package folder is listed in pyproject.toml (package-dir maps them into ``crmkit``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("core", "cli", "plugins")


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]


def _package_folders() -> list[str]:
    names = []
    for top in TOP_LEVEL:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            folder = init.parent.relative_to(ROOT)
            if "__pycache__" in folder.parts:
                continue
            names.append(".".join(("crmkit", *folder.parts)))
    return names


def test_top_level_folders_are_mapped() -> None:
    package_dir = _setuptools()["package-dir"]
    assert package_dir == {f"crmkit.{top}": top for top in TOP_LEVEL}


def test_every_package_is_listed() -> None:
    listed = set(_setuptools()["packages"])
    folders = _package_folders()
    assert "crmkit.core.db" in folders
    missing = [name for name in folders if name not in listed]
    assert not missing, f"add to [tool.setuptools].packages in pyproject.toml: {', '.join(missing)}"


def test_no_listed_package_is_missing_on_disk() -> None:
    stale = sorted(set(_setuptools()["packages"]) - set(_package_folders()))
    assert not stale, f"listed in pyproject.toml but without an __init__.py: {', '.join(stale)}"
