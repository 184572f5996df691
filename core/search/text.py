"""What of a value is indexed: its words (``normalize``/``words``), phones by their digits.

Both sides of a search go through :func:`crmkit.core.query.language.words`: the index
stores each value as its words joined by single spaces (the ``body``), and the
compilers build their ``MATCH`` / ``tsquery`` strings from the words of the query. A
word is letters, digits and marks only, so neither the body nor a built query can
hold index syntax, quotes or braces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import phonenumbers

from ..query.language import words

__all__ = [
    "MAX_WORD",
    "ROW_WORDS",
    "SKIP_KEYS",
    "chunks",
    "phone_forms",
    "strings",
]

#: Longest word kept (longer ones are cut, in the index and the query alike): a
#: PostgreSQL lexeme is at most 2 KB.
MAX_WORD = 100
#: Most words in one index row; longer texts become several rows (PostgreSQL keeps
#: positions up to 16383 and a tsvector under 1 MB).
ROW_WORDS = 2000
#: Keys of structured values (``{"address": ..., "label": "work", "primary": true}``)
#: whose strings describe the value rather than hold it: not indexed, or "work" would
#: find everyone with a work email.
SKIP_KEYS = frozenset({"id", "label", "type", "kind", "primary", "code"})

_PHONE = re.compile(r"\+?[\d\s().\-/]{6,40}")


def clip(text: str) -> list[str]:
    """The words of ``text``, each cut to :data:`MAX_WORD` characters."""
    return [w[:MAX_WORD] for w in words(text)]


def strings(value: Any) -> Iterator[str]:
    """The texts of a stored value: one per string, list item or structured value.

    A dict (an email, an address) gives one text of its strings joined, so a phrase
    can span street and city; booleans, numbers and the keys of :data:`SKIP_KEYS` are
    left out.
    """
    if isinstance(value, str):
        if value.strip():
            yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        parts = [
            v for k, v in value.items() if k not in SKIP_KEYS and isinstance(v, str) and v.strip()
        ]
        if parts:
            yield " ".join(parts)


def phone_forms(text: str, region: str | None) -> tuple[list[str], list[str]]:
    """Extra words and digit strings of a value that is a phone number, else ``([], [])``.

    ``+4722334455`` also reads as ``47 22 33 44 55`` and ``22 33 44 55`` (its
    international and national groups) and as the digits ``4722334455`` and
    ``22334455``, so "22 33 44 55", "22334455", "+47 22 33 44 55" all find it; the
    digit strings feed the substring (trigram) index, so "4455" finds it too.
    """
    stripped = text.strip()
    if not _PHONE.fullmatch(stripped):
        return [], []
    digits = re.sub(r"\D", "", stripped)
    if not 6 <= len(digits) <= 15:
        return [], []
    extra: list[str] = [] if words(stripped) == [digits] else [digits]
    found = [digits]
    try:
        parsed = phonenumbers.parse(stripped, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        national = str(parsed.national_number)
        fmt = phonenumbers.PhoneNumberFormat
        extra += words(phonenumbers.format_number(parsed, fmt.INTERNATIONAL))
        extra += words(phonenumbers.format_number(parsed, fmt.NATIONAL))
        extra.append(national)
        found.append(f"{parsed.country_code}{national}")
        found.append(national)
    return extra, list(dict.fromkeys(found))


def chunks(items: list[str]) -> Iterator[str]:
    """``items`` as bodies of at most :data:`ROW_WORDS` words."""
    for start in range(0, len(items), ROW_WORDS):
        yield " ".join(items[start : start + ROW_WORDS])
