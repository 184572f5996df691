"""The database layer: engines for SQLite and PostgreSQL, and the :class:`Database` facade."""

from .database import Database, open_database

__all__ = ["Database", "open_database"]
