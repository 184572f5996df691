"""Full-text search of every entity: the index (``crmkit_search``), its upkeep, and the
compiler of ``q=`` trees for SQLite FTS5 and PostgreSQL. See docs/search.md.

- :mod:`.text`: what of a value is indexed (words, phone digits).
- :mod:`.document`: the rows of a record (fields, weights, contributed text).
- :mod:`.index`: writing them in the change's transaction; :func:`rebuild`.
- :mod:`.compiler`: a query tree as SQL conditions and a rank.
"""

from .index import TABLE, follow, ready, rebuild, reindex, remove

__all__ = ["TABLE", "follow", "ready", "rebuild", "reindex", "remove"]
