"""vCard files (3.0 and 4.0, one card or thousands) as import rows, card by card.

Cards are cut from the stream at ``BEGIN:VCARD``/``END:VCARD`` and each is read on its
own with ``vobject``, so one broken card is an error on its row and the others import.
What a card means for an entity is the entity's plugin's: vCard import is available
for an entity whose plugin has a ``vcard`` module with ``from_card(card) -> values``
(the individuals plugin has).

On top of that reader: Apple's grouped labels (``item1.EMAIL`` with
``item1.X-ABLabel:_$!<Work>!$_``) label their lines, and ``mapping`` (or a preset)
maps other properties to columns of ``columns.py``, read like CSV cells:
``{"ORG": "organization", "NICKNAME": "custom.nickname"}``. By default the company of
``ORG`` becomes ``organization`` where the entity has that column. Properties neither
read nor mapped are listed once as ignored.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

import vobject

from ..errors import BadRequest, FieldError
from .sources import (
    ColumnMapping,
    Source,
    SourceRow,
    check_writable,
    field_of,
    is_column,
    releasing,
    typed_row,
)

if TYPE_CHECKING:
    from ..access import Access
    from ..runtime import Runtime
    from .columns import ColumnModel
    from .presets import Preset

__all__ = ["VcardSource", "card_reader"]

CardReader = Callable[[Any], dict[str, Any]]
#: Properties every card has or the entity's reader takes (never reported as ignored).
READ = frozenset(
    {
        "VERSION",
        "PRODID",
        "N",
        "FN",
        "EMAIL",
        "TEL",
        "ADR",
        "TITLE",
        "ORG",
        "BDAY",
        "NOTE",
        "CATEGORIES",
        "UID",
        "REV",
        "KIND",
        "X-ABLABEL",
        "X-ABADR",
        "X-ABUID",
        "X-ABSHOWAS",
    }
)
DEFAULT_PROPERTIES: dict[str, str | None] = {"ORG": "organization"}


def card_reader(runtime: Runtime, entity: str) -> CardReader | None:
    """The entity's card reader: ``from_card`` of its plugin's ``vcard`` module, if any."""
    try:
        owner = runtime.plugins.entities.owner(entity)
    except KeyError:
        return None
    module = runtime.plugins.pm.get_plugin(owner)
    if module is None or not getattr(module, "__name__", None):
        return None
    try:
        vcard = importlib.import_module(f"{module.__name__}.vcard")
    except ImportError:
        return None
    reader = getattr(vcard, "from_card", None)
    return reader if callable(reader) else None


def _cards(first: str, lines: IO[str]) -> Iterator[str]:
    """The text of each card (nested cards, as in vCard 2.1 ``AGENT``, stay inside)."""
    buffer: list[str] = []
    depth = 0

    def all_lines() -> Iterator[str]:
        yield first
        yield from lines

    for line in all_lines():
        tag = line.strip().upper()
        if tag == "BEGIN:VCARD":
            depth += 1
        if depth:
            buffer.append(line)
        if tag == "END:VCARD" and depth:
            depth -= 1
            if depth == 0:
                yield "".join(buffer)
                buffer = []
    if buffer:
        yield "".join(buffer)  # unterminated: an error on its row


def _ablabel(text: str) -> str:
    """``_$!<Mobile>!$_`` (Apple's built-in labels) -> ``mobile``; custom ones as they are."""
    text = text.strip()
    if text.startswith("_$!<") and text.endswith(">!$_"):
        text = text[4:-4]
    return text.strip().lower()[:50]


def _grouped(card: Any, name: str) -> dict[str, str]:
    return {
        line.group.lower(): str(line.value).strip()
        for line in card.contents.get(name, [])
        if line.group
    }


def _part(value: Any) -> str:
    return (value if isinstance(value, str) else " ".join(value or ())).strip()


def _refine(card: Any, values: dict[str, Any]) -> None:
    """What the card says beyond the entity's reader: an address's extended part and
    post box (``ADR:box;extended;street;...``) as ``street2``; Apple's labels of grouped
    lines; the ISO code of an address's country (``item2.X-ABADR:no``: Apple writes the
    country's name in the user's language)."""
    countries = _grouped(card, "x-abadr")
    addresses = values.get("addresses") or []
    lines = card.contents.get("adr", [])
    if len(lines) == len(addresses):
        for line, item in zip(lines, addresses, strict=True):
            extra = "; ".join(p for p in (_part(line.value.extended), _part(line.value.box)) if p)
            if extra and not item.get("street2"):
                item["street2"] = extra
            code = countries.get((line.group or "").lower(), "")
            if len(code) == 2 and code.isalpha():
                item["country"] = code.upper()
    labels = {group: _ablabel(text) for group, text in _grouped(card, "x-ablabel").items()}
    if not labels:
        return
    for name, key in (("email", "emails"), ("tel", "phones")):
        lines, items = card.contents.get(name, []), values.get(key) or []
        if len(lines) != len(items):
            continue
        for line, item in zip(lines, items, strict=True):
            label = labels.get((line.group or "").lower())
            if label and not item.get("label"):
                item["label"] = label


def _organisation(card: Any) -> bool:
    """``KIND:org`` (vCard 4.0) or Apple's ``X-ABShowAs:COMPANY``: not a person's card."""
    kinds = [str(line.value).strip().lower() for line in card.contents.get("kind", [])]
    shown = [str(line.value).strip().upper() for line in card.contents.get("x-abshowas", [])]
    return any(k in ("org", "organization") for k in kinds) or "COMPANY" in shown


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):  # ORG: company;unit -> the company
        parts = [str(v).strip() for v in value if str(v).strip()]
        return parts[0] if parts else ""
    return str(value).strip()


class VcardSource(Source):
    """The cards of a vCard file (see the module docstring)."""

    @releasing
    def __init__(
        self,
        binary: IO[bytes],
        model: ColumnModel,
        full: ColumnModel,
        *,
        reader: CardReader,
        access: Access | None,
        mapping: ColumnMapping | None = None,
        preset: Preset | None = None,
        encoding: str = "utf-8",
    ) -> None:
        super().__init__(binary)
        self.model = model
        self.entity = model.entity
        self.reader = reader
        text = self.text(encoding)
        first = text.readline()
        while first and not first.strip():
            first = text.readline()
        if first.strip().upper() != "BEGIN:VCARD":
            raise BadRequest(
                "not a vCard file (it must start with BEGIN:VCARD)",
                errors=[FieldError("body", "not a vCard file")],
            )
        self._cards = _cards(first, text)
        defaults = {**DEFAULT_PROPERTIES, **(preset.properties if preset else {})}
        properties = {k: v for k, v in defaults.items() if v is None or is_column(full, v)}
        errors = []
        for source, target in (mapping or {}).items():
            if target is not None and not is_column(full, target):
                errors.append(
                    FieldError(
                        f"mapping.{source}", f"{target!r} is not a column of {self.entity.name}"
                    )
                )
            properties[source.strip().upper()] = target
        if errors:
            raise BadRequest("mapping names unknown columns", errors=errors)
        self.properties = {k: v for k, v in properties.items() if v is not None}
        self.dropped = {k for k, v in properties.items() if v is None}
        check_writable(
            access,
            self.entity,
            [f for f in (field_of(full, t) for t in self.properties.values()) if f],
        )

    def rows(self) -> Iterator[SourceRow]:
        for number, text in enumerate(self._cards, start=1):
            if "\ufffd" in text:
                yield SourceRow(
                    number, errors=[FieldError("card", "not valid text in the file's encoding")]
                )
                continue
            try:
                card = vobject.readOne(text)
                values = self.reader(card)
            except BadRequest as exc:
                yield SourceRow(number, errors=exc.errors or [FieldError("card", exc.detail)])
                continue
            except Exception as exc:  # vobject raises many kinds of errors for bad input
                message = " ".join(str(exc).split())[:200] or type(exc).__name__
                yield SourceRow(number, errors=[FieldError("card", f"not a vCard: {message}")])
                continue
            if _organisation(card):
                message = "the card of an organisation, not of a person"
                yield SourceRow(number, errors=[FieldError("card", message)])
                continue
            _refine(card, values)
            errors: list[FieldError] = []
            extra: dict[str, Any] = {}
            cells: dict[str, str] = {}
            for name, lines in card.contents.items():
                prop = name.upper()
                target = self.properties.get(prop)
                if target is not None:
                    if target not in cells:
                        cells[target] = _text(lines[0].value)
                elif prop not in READ and prop not in self.dropped:
                    self._ignore(prop)
            if cells:
                parsed = self.model.from_row(list(cells), list(cells.values()))
                errors.extend(parsed.errors)
                extra = parsed.extra
                for key, value in parsed.values.items():
                    if key == "custom":
                        values["custom"] = {**(values.get("custom") or {}), **value}
                    else:
                        values[key] = value
            out = typed_row(self.entity, number, values, errors)
            out.extra = extra
            yield out
