"""The search document of a record: one row per field value, with its words and weight.

Every entity of every plugin gets the same document, built from what the core knows of
it, so no plugin writes search code or migrations of its own:

============================  =========================  ======
field                         from                       weight
============================  =========================  ======
``name``                      ``EntityType.display``      3
each of ``searchable``        the column's value(s)      2 (3 when the display uses it)
``tags``                      one row per tag            2
``custom.<key>``              text, select and           2
                              multi-select values
the plugin's name             ``search_text`` hook       1
============================  =========================  ======

Lists give one row per item, structured values (an email, an address) one row of
their strings (:func:`.text.strings`); a phone number also gets its digit forms.
Weights rank the results (``docs/search.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .text import chunks, clip, phone_forms, strings

if TYPE_CHECKING:
    from ..entity import EntityType
    from ..runtime import Runtime

__all__ = [
    "CONTRIBUTED_WEIGHT",
    "FIELD_WEIGHT",
    "NAME",
    "NAME_WEIGHT",
    "Row",
    "build",
    "contributors",
    "display_sources",
    "has_name",
]

#: The field of the display name (a phrase can span first and last name there).
NAME = "name"
NAME_WEIGHT = 3
FIELD_WEIGHT = 2
CONTRIBUTED_WEIGHT = 1
#: Custom-field storage kinds whose values are text to search (numbers, dates and
#: checkboxes are for ``custom.<key>:>n`` comparisons, not words).
TEXT_STORAGE = frozenset({"text", "array"})


@dataclass(frozen=True)
class Row:
    """One indexed value: ``body`` is its words joined by spaces; ``digits`` the digit
    strings of a phone number (for substring search), else ``None``."""

    field: str
    weight: int
    body: str
    digits: str | None = None


_SOURCES = "_search_display_sources"


def _sentinel(name: str) -> str:
    return f"\x01{name}\x02"


def _display_sources(entity: EntityType) -> frozenset[str] | None:
    if entity.display is None:
        return frozenset()
    probe = {name: _sentinel(name) for name in entity.read_fields}
    try:
        shown = entity.display(probe)
    except Exception:  # a display that needs real values: treat it as using every field
        return None
    if not isinstance(shown, str):
        return None
    return frozenset(n for n in entity.read_fields if _sentinel(n) in shown)


def display_sources(entity: EntityType) -> frozenset[str] | None:
    """The fields ``entity.display`` shows (found by calling it once on marked values),
    or ``None`` when that cannot be told: then the name counts as using every field."""
    cache = entity.__dict__  # a frozen dataclass: cached beside its derived types
    if _SOURCES not in cache:
        cache[_SOURCES] = _display_sources(entity)
    return cache[_SOURCES]


def has_name(entity: EntityType) -> bool:
    """Whether the entity's documents have a ``name`` row (its display, or its own
    searchable ``name`` column)."""
    if NAME in entity.columns:
        return NAME in entity.searchable
    return entity.display is not None


def contributors(runtime: Runtime | None) -> list[str]:
    """The plugins implementing ``search_text``: their text is indexed under their name."""
    if runtime is None:
        return []
    return [impl.plugin_name for impl in runtime.plugins.hook.search_text.get_hookimpls()]


def _rows(field: str, weight: int, value: Any, region: str | None) -> list[Row]:
    out: list[Row] = []
    for text in strings(value):
        found = clip(text)
        extra, digits = phone_forms(text, region)
        found += extra
        for body in chunks(found):
            out.append(Row(field, weight, body, " ".join(digits) or None))
            digits = []
    return out


def _custom_rows(
    runtime: Runtime, definitions: dict[str, Any], custom: dict[str, Any], region: str | None
) -> list[Row]:
    out: list[Row] = []
    for key, value in sorted(custom.items()):
        definition = definitions.get(key)
        ftype = runtime.custom_fields.field_type(definition) if definition else None
        if ftype is None or ftype.storage not in TEXT_STORAGE or value is None:
            continue
        labels = {o["value"]: o.get("label") for o in definition.options or []}
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str):
                continue
            out += _rows(f"custom.{key}", FIELD_WEIGHT, item, region)
            label = labels.get(item)
            if label and clip(label) != clip(item):  # a select's label is searchable too
                out += _rows(f"custom.{key}", FIELD_WEIGHT, label, region)
    return out


def record_rows(
    runtime: Runtime,
    entity: EntityType,
    record: dict[str, Any],
    definitions: dict[str, Any],
    contributed: dict[str, list[str]],
) -> list[Row]:
    """The rows of one record (``contributed``: texts by contributing plugin)."""
    region = runtime.settings.default_region
    shown = display_sources(entity)
    rows: list[Row] = []
    if entity.display is not None and NAME not in entity.columns:
        try:
            name = entity.display(record)
        except Exception:  # a display that cannot show this record names nothing
            name = None
        rows += _rows(NAME, NAME_WEIGHT, name, region)
    for field in entity.searchable:
        weight = NAME_WEIGHT if field == NAME or shown is None or field in shown else FIELD_WEIGHT
        rows += _rows(field, weight, record.get(field), region)
    for tag in record.get("tags") or []:
        rows += _rows("tags", FIELD_WEIGHT, tag, None)
    custom = record.get("custom")
    if isinstance(custom, dict) and custom:
        rows += _custom_rows(runtime, definitions, custom, region)
    for plugin, texts in contributed.items():
        for text in texts:
            rows += _rows(plugin, CONTRIBUTED_WEIGHT, text, None)
    return rows


async def contributions(
    runtime: Runtime, entity: EntityType, record_ids: Sequence[Any]
) -> dict[str, dict[str, list[str]]]:
    """``search_text`` of every plugin: ``{record id (str): {plugin: [texts]}}``."""
    results = await runtime.plugins.call_by_plugin(
        "search_text", runtime=runtime, entity=entity.name, record_ids=list(record_ids)
    )
    out: dict[str, dict[str, list[str]]] = {}
    for plugin, result in results.items():
        for key, text in (result or {}).items():
            texts = [text] if isinstance(text, str) else list(text or [])
            texts = [t for t in texts if isinstance(t, str) and t.strip()]
            if texts:
                out.setdefault(str(key), {}).setdefault(plugin, []).extend(texts)
    return out


async def build(
    runtime: Runtime,
    entity: EntityType,
    records: Sequence[dict[str, Any]],
    *,
    contributed: bool = True,
) -> dict[str, list[Row]]:
    """The rows of each record, by record id (str): one ``search_text`` call in all
    (none without ``contributed``: the record's own rows only)."""
    if not records:
        return {}
    definitions = (await runtime.custom_fields.ensure()).get(entity.name, {})
    texts = {}
    if contributed:
        texts = await contributions(runtime, entity, [r["id"] for r in records])
    return {
        str(r["id"]): record_rows(runtime, entity, r, definitions, texts.get(str(r["id"]), {}))
        for r in records
    }
