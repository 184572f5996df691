"""How errors reach the terminal: one line each, never a traceback (unless ``--diagnose``).

``CrmError`` gives its own one-line message; database and file-system errors are
summarised here. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from crmkit.core.errors import CrmError

__all__ = ["DatabaseUnreachable", "describe", "one_line", "redact_url"]

_SECRET_PARAMS = {"password", "passfile", "sslpassword"}


class DatabaseUnreachable(CrmError):
    """The database cannot be connected to (down, wrong address, wrong password, no file)."""

    status = 503
    title = "Database unreachable"
    slug = "database-unreachable"


def one_line(text: object) -> str:
    """``text`` with its lines joined: a CLI error is a single line."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def redact_url(url: str) -> str:
    """The database URL without its password (in the user info or the query)."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and not any(k in _SECRET_PARAMS for k, _ in params):
        return url  # untouched: sqlite:////abs/path must keep its slashes
    user = parts.netloc.rpartition("@")[0].split(":", 1)[0]
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}@{host}" if user else host
    query = urlencode([(k, v) for k, v in params if k not in _SECRET_PARAMS])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _reason(exc: BaseException) -> str:
    return one_line(exc) or type(exc).__name__


def describe(exc: BaseException) -> str | None:
    """The one-line message for an error a user can cause, or ``None`` for a bug."""
    if isinstance(exc, CrmError):
        return one_line(exc.one_line())
    missing_table = isinstance(exc, asyncpg.UndefinedTableError) or (
        isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)
    )
    if missing_table:
        return f"{_reason(exc)}: is the database migrated? Run `crmkit init` or `crmkit migrate`."
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | sqlite3.Error):
        return f"database error: {_reason(exc)} (--diagnose shows the traceback)"
    if isinstance(exc, OSError):
        return _reason(exc)
    return None
