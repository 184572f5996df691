"""Detail tabs: what a tab provider declares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .entity import EntityType
    from .query.params import ListParams
    from .runtime import Runtime

__all__ = ["TabPage", "TabProvider"]


@dataclass(frozen=True)
class TabPage:
    items: list[dict[str, Any]]
    next_cursor: str | None = None


@dataclass(frozen=True, kw_only=True)
class TabProvider:
    """One tab on an entity's detail view.

    ``entity`` is an entity name or ``"*"`` for every entity. ``count`` and ``page`` are
    async functions of ``(runtime, entity, record_id)`` (``page`` also gets the list
    parameters); each runs a fixed number of queries whatever the number of items.
    ``create_href`` returns the link for "create new" from this record, if any.
    ``requires_entities`` names entity types the tab needs besides its own (say, the
    ``individual`` a list of people reads): the host drops the tab at start-up when one
    of them is not registered (its plugin is disabled).
    """

    key: str
    title: str
    entity: str = "*"
    order: int = 100
    count: Callable[[Runtime, EntityType, Any], Awaitable[int]]
    page: Callable[[Runtime, EntityType, Any, ListParams], Awaitable[TabPage]]
    create_href: Callable[[EntityType, Any], str | None] | None = None
    requires_entities: tuple[str, ...] = ()
    #: Entities whose records the tab shows besides the record's own: a role that cannot
    #: read one of them does not see the tab. Providers redact the fields of the items
    #: they return with :func:`crmkit.core.current_access` (``access.redact``).
    reads: tuple[str, ...] = ()

    def applies_to(self, entity: str) -> bool:
        return self.entity in ("*", entity)
