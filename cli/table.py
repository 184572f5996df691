"""Plain-text tables for listings: left-aligned columns, two spaces apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import click

__all__ = ["echo_table", "fmt_time", "yes_no"]


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def fmt_time(value: dt.datetime | None) -> str:
    """A time in UTC to the minute, or ``-``."""
    if value is None:
        return "-"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a header line and one line per row (trailing spaces trimmed)."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    for line in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
