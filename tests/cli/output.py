"""Reading what the CLI printed: keys, tables."""

from __future__ import annotations

import re
from collections.abc import Callable

from click.testing import Result

__all__ = ["KEY", "Invoke", "rows", "table"]

#: A key as ``crmkit init`` and ``crmkit apikeys create`` print it.
KEY = re.compile(r"crm_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")

#: The ``invoke`` fixture: ``invoke("migrate", "--status") -> Result``.
Invoke = Callable[..., Result]


def rows(text: str) -> list[list[str]]:
    """The cells of a printed table (columns are two or more spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def table(text: str) -> dict[str, list[str]]:
    """A printed table's rows by their first cell (the header included)."""
    return {row[0]: row for row in rows(text)}
