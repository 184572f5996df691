"""What a reader may see of the log: entries of entities they can read, without the
changes of fields hidden from them (the summary line is rebuilt from what is left)."""

from __future__ import annotations

from typing import Any

from crmkit.core import Access

from .store import summarize

__all__ = ["redact_entries"]


def redact_entries(entries: list[dict[str, Any]], access: Access) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        data = entry.get("data") or {}
        entity = data.get("entity")
        if entity and not access.can(entity, "read"):
            continue
        changes = data.get("changes")
        if entity and changes:
            kept = access.redact_changes(entity, changes)
            if len(kept) != len(changes):
                entry = {
                    **entry,
                    "data": {**data, "changes": kept},
                    "summary": summarize(
                        data.get("action", "update"),
                        [(c["field"], c.get("old"), c.get("new")) for c in kept],
                    ),
                }
        out.append(entry)
    return out
