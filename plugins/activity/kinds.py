"""The kinds of activity entries: the manual ones and a registry for others."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

__all__ = ["CHANGE", "KINDS", "Kind", "kind_names", "note_kinds", "register_kind"]

#: The kind of the entries the change log writes (never made through the API).
CHANGE = "change"

Text = Annotated[str, msgspec.Meta(max_length=100_000)]
Short = Annotated[str, msgspec.Meta(max_length=500)]


class NoteFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]


class CallFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    direction: Literal["in", "out"]
    outcome: Short | None = None
    duration_seconds: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] | None = None
    body: Text | None = None


class MeetingFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    location: Short | None = None
    attendees: Annotated[list[Short], msgspec.Meta(max_length=500)] = []
    body: Text | None = None


class EmailFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject: Short
    from_: Short | None = msgspec.field(default=None, name="from")
    to: Annotated[list[Short], msgspec.Meta(max_length=500)] = []
    cc: Annotated[list[Short], msgspec.Meta(max_length=500)] = []
    direction: Literal["in", "out"] | None = None
    message_id: Short | None = None
    body: Text | None = None


@dataclass(frozen=True)
class Kind:
    """A manual kind: its fields (a msgspec Struct; a ``body`` field goes to the body
    column), whether it is shown on the notes tab, and its searchable text."""

    name: str
    fields: type[msgspec.Struct]
    notes: bool = True
    text: Callable[[dict[str, Any]], str] | None = None


def _body_text(entry: dict[str, Any]) -> str:
    return entry.get("body") or ""


def _email_text(entry: dict[str, Any]) -> str:
    subject = (entry.get("data") or {}).get("subject") or ""
    return " ".join(filter(None, [subject, entry.get("body") or ""]))


KINDS: dict[str, Kind] = {
    "note": Kind("note", NoteFields, text=_body_text),
    "call": Kind("call", CallFields, text=_body_text),
    "meeting": Kind("meeting", MeetingFields, text=_body_text),
    "email": Kind("email", EmailFields, text=_email_text),
}


def register_kind(kind: Kind) -> None:
    """Add a manual kind (another plugin's, at import time); ``change`` is reserved."""
    if kind.name == CHANGE or kind.name in KINDS:
        raise ValueError(f"activity kind {kind.name!r} already exists")
    KINDS[kind.name] = kind


def kind_names() -> list[str]:
    return [CHANGE, *KINDS]


def note_kinds() -> list[str]:
    return [k.name for k in KINDS.values() if k.notes]
