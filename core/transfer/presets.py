"""Column presets for contacts exported by Google Contacts, Outlook and Apple Contacts.

A plain ``mapping`` renames columns; these exports need a little more: Google puts
several addresses in one cell (``a@x.no ::: b@x.no``), marks labels with ``* `` and
joins its labels with `` ::: ``; Outlook names a phone by its column (``Mobile Phone``)
and writes birthdays as ``5/17/1980`` (``0/0/00`` for none); Apple writes vCard 3.0
with grouped lines (``item1.EMAIL`` and ``item1.X-ABLabel``) and the company in
``ORG``. A preset turns the source columns it knows into the columns of
``columns.py`` (``email_1``, ``email_1_label``, ``address_1_city``, ``tags`` ...);
the request's own ``mapping`` still wins over it, column by column.

Each preset says which source columns it takes (:meth:`Preset.claims`: the column it
becomes, or ``""`` for a column it reads but drops, such as Google's ``Photo``), so
the columns it does not know are reported once like any unknown column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import BadRequest, FieldError
from .cells import join_list

__all__ = ["PRESETS", "Preset", "preset"]

Row = dict[str, str]
_MULTI = " ::: "


@dataclass(frozen=True)
class Preset:
    """How to read one vendor's export (CSV columns, or vCard properties)."""

    name: str
    format: str
    description: str
    #: Source column (lower-case) -> target column; ``""`` reads and drops it.
    simple: dict[str, str] = field(default_factory=dict)
    #: Families of numbered columns (``E-mail 2 - Value``): pattern -> representative target.
    families: tuple[tuple[re.Pattern[str], str], ...] = ()
    #: Source row (the columns it claims) -> target columns.
    converter: Callable[[Row], Row] | None = None
    #: vCard property (upper-case) -> target column (vCard presets).
    properties: dict[str, str | None] = field(default_factory=dict)

    def claims(self, column: str) -> str | None:
        """The target of a source column (``""``: read and dropped), or ``None`` when this
        preset does not know it."""
        key = column.strip().lower()
        if key in self.simple:
            return self.simple[key]
        for pattern, target in self.families:
            if pattern.match(key):
                return target
        return None

    def convert(self, raw: Row) -> Row:
        if self.converter is None:
            return {}
        return {k: v for k, v in self.converter(raw).items() if v.strip()}


def _label(text: str) -> str:
    """``* Work`` -> ``work``; Google's system labels (``* myContacts``) are dropped."""
    return text.strip().lstrip("*").strip().lower()


def _put_list(out: Row, singular: str, items: list[dict[str, str]], main: str | None) -> None:
    """Items as ``email_1``, ``email_1_label``, ... (the first is the primary one)."""
    for index, item in enumerate(items, start=1):
        for sub, text in item.items():
            if not text:
                continue
            out[f"{singular}_{index}" if sub == main else f"{singular}_{index}_{sub}"] = text


def _simple(raw: Row, table: dict[str, str]) -> Row:
    out: Row = {}
    for column, text in raw.items():
        target = table.get(column.strip().lower())
        if target and text.strip():
            out[target] = text.strip() if target not in out else f"{out[target]}\n{text.strip()}"
    return out


def _numbered(raw: Row, pattern: re.Pattern[str]) -> dict[int, Row]:
    """``{number: {part: text}}`` of a family of numbered columns."""
    groups: dict[int, Row] = {}
    for column, text in raw.items():
        match = pattern.match(column.strip().lower())
        if match:
            groups.setdefault(int(match["n"]), {})[match["part"]] = text.strip()
    return dict(sorted(groups.items()))


# -- Google Contacts ---------------------------------------------------------------------------

_G_EMAIL = re.compile(r"^e-mail (?P<n>\d+) - (?P<part>value|label|type)$")
_G_PHONE = re.compile(r"^phone (?P<n>\d+) - (?P<part>value|label|type)$")
_G_ADDRESS = re.compile(
    r"^address (?P<n>\d+) - (?P<part>label|type|street|city|po box|region|postal code|"
    r"country|extended address|formatted|neighborhood)$"
)
_G_ORG = re.compile(r"^organization (?P<n>\d+) - (?P<part>name|title|department|type|.*)$")
_G_SIMPLE = {
    # the 2023 export                           # the older one
    "first name": "first_name",
    "given name": "first_name",
    "middle name": "middle_name",
    "additional name": "middle_name",
    "last name": "last_name",
    "family name": "last_name",
    "name prefix": "salutation",
    "birthday": "birthday",
    "notes": "notes",
    "organization name": "organization",
    "organization title": "job_title",
    "organization department": "department",
    "labels": "tags",
    "group membership": "tags",
    # read and dropped: names Google derives, pictures, phonetic spellings
    "name": "",
    "name suffix": "",
    "nickname": "",
    "short name": "",
    "maiden name": "",
    "file as": "",
    "photo": "",
    "phonetic first name": "",
    "phonetic middle name": "",
    "phonetic last name": "",
    "given name yomi": "",
    "additional name yomi": "",
    "family name yomi": "",
    "name yomi": "",
    "organization phonetic name": "",
    "initials": "",
}


def _google_items(groups: dict[int, Row], main: str) -> list[dict[str, str]]:
    """Google's numbered values, split at ``:::`` (several values share a label); the
    ones labelled ``* ...`` first (Google's mark of the preferred one)."""
    first: list[dict[str, str]] = []
    rest: list[dict[str, str]] = []
    for group in groups.values():
        raw_label = group.get("label") or group.get("type") or ""
        label = _label(raw_label)
        for value in (group.get("value") or "").split(_MULTI):
            if value.strip():
                item = {main: value.strip(), "label": label}
                (first if raw_label.strip().startswith("*") else rest).append(item)
    return first + rest


def _google_birthday(text: str) -> str:
    """``1980-05-17`` as it is; ``--05-17`` (no year) cannot be a date and is dropped."""
    return "" if text.strip().startswith("--") else text.strip()


def _google(raw: Row) -> Row:
    out = _simple(raw, _G_SIMPLE)
    if "birthday" in out:
        out["birthday"] = _google_birthday(out["birthday"])
    if "tags" in out:
        tags = [t.strip() for t in re.split(r":::|\n", out["tags"]) if t.strip()]
        out["tags"] = join_list(t for t in tags if not t.startswith("*"))
    for group in _numbered(raw, _G_ORG).values():
        for part, target in (("name", "organization"), ("title", "job_title")):
            if group.get(part) and target not in out:
                out[target] = group[part]
        if group.get("department") and "department" not in out:
            out["department"] = group["department"]
        break  # the first organisation is the primary one
    _put_list(out, "email", _google_items(_numbered(raw, _G_EMAIL), "address"), "address")
    _put_list(out, "phone", _google_items(_numbered(raw, _G_PHONE), "number"), "number")
    addresses = []
    for group in _numbered(raw, _G_ADDRESS).values():
        label = _label(group.get("label") or group.get("type") or "")
        street2 = "; ".join(p for p in (group.get("extended address"), group.get("po box")) if p)
        address = {
            "type": label if label in ("home", "work") else "other",
            "street": group.get("street", ""),
            "street2": street2,
            "postal_code": group.get("postal code", ""),
            "city": group.get("city", ""),
            "region": group.get("region", ""),
            "country": group.get("country", ""),
        }
        if any(v for k, v in address.items() if k != "type"):
            addresses.append(address)
    _put_list(out, "address", addresses, None)
    return out


GOOGLE = Preset(
    name="google",
    format="csv",
    description="Google Contacts CSV (Export > Google CSV), the 2023 format and the older one",
    simple=_G_SIMPLE,
    families=(
        (_G_EMAIL, "email_1"),
        (_G_PHONE, "phone_1"),
        (_G_ADDRESS, "address_1_street"),
        (_G_ORG, "organization"),
        (re.compile(r"^(website|relation|event|custom field|im|external id) \d+ - .*$"), ""),
    ),
    converter=_google,
)


# -- Outlook -------------------------------------------------------------------------------------

_O_SIMPLE = {
    "title": "salutation",
    "first name": "first_name",
    "middle name": "middle_name",
    "last name": "last_name",
    "company": "organization",
    "department": "department",
    "job title": "job_title",
    "notes": "notes",
    "categories": "tags",
    "birthday": "birthday",
    "e-mail address": "email_1",
    "e-mail 2 address": "email_2",
    "e-mail 3 address": "email_3",
}
_O_DROPPED = (
    "suffix",
    "e-mail type",
    "e-mail display name",
    "e-mail 2 type",
    "e-mail 2 display name",
    "e-mail 3 type",
    "e-mail 3 display name",
    "anniversary",
    "initials",
    "priority",
    "private",
    "sensitivity",
    "gender",
    "language",
    "mileage",
    "billing information",
    "directory server",
    "location",
    "office location",
    "user 1",
    "user 2",
    "user 3",
    "user 4",
    "web page",
    "keywords",
    "account",
    "hobby",
    "spouse",
    "children",
    "referred by",
    "assistant's name",
    "manager's name",
    "government id number",
    "organizational id number",
    "internet free busy",
    "profession",
)
#: Phone columns and the label each implies, in the order they become phone_1, phone_2 ...
_O_PHONES = {
    "mobile phone": "mobile",
    "business phone": "work",
    "business phone 2": "work",
    "company main phone": "work",
    "home phone": "home",
    "home phone 2": "home",
    "primary phone": "other",
    "other phone": "other",
    "car phone": "other",
    "assistant's phone": "other",
    "callback": "other",
    "isdn": "other",
    "radio phone": "other",
    "telex": "other",
    "tty/tdd phone": "other",
    "pager": "pager",
    "business fax": "fax",
    "home fax": "fax",
    "other fax": "fax",
}
_O_ADDRESS = re.compile(
    r"^(?P<kind>business|home|other) (?:address )?(?P<part>street|street 2|street 3|city|"
    r"state|postal code|country/region|country|po box)$"
)
_O_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2,4})$")


def _outlook_birthday(text: str) -> str:
    """``5/17/1980`` (month first, as Outlook writes it) -> ``1980-05-17``; ``0/0/00``
    (Outlook's "none") -> nothing; anything else as it is (validation names it)."""
    match = _O_DATE.match(text.strip())
    if not match:
        return text.strip()
    month, day, year = (int(g) for g in match.groups())
    if month == 0 or day == 0:
        return ""
    if year < 100:
        year += 1900 if year > dt.date.today().year % 100 else 2000
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return text.strip()


def _outlook(raw: Row) -> Row:
    out = _simple(raw, _O_SIMPLE)
    if "birthday" in out:
        out["birthday"] = _outlook_birthday(out["birthday"])
    if "tags" in out:  # Outlook separates categories with ";" already, sometimes ","
        out["tags"] = join_list(t.strip() for t in re.split(r"[;,]", out["tags"]) if t.strip())
    cells = {c.strip().lower(): t.strip() for c, t in raw.items()}
    phones = [
        {"number": cells[column], "label": label}
        for column, label in _O_PHONES.items()
        if cells.get(column)
    ]
    _put_list(out, "phone", phones, "number")
    groups: dict[str, Row] = {}
    for column, text in cells.items():
        match = _O_ADDRESS.match(column)
        if match and text:
            groups.setdefault(match["kind"], {})[match["part"]] = text
    addresses = []
    for kind in ("business", "home", "other"):
        group = groups.get(kind)
        if not group:
            continue
        street2 = "; ".join(
            p for p in (group.get("street 2"), group.get("street 3"), group.get("po box")) if p
        )
        addresses.append(
            {
                "type": {"business": "work", "home": "home"}.get(kind, "other"),
                "street": group.get("street", ""),
                "street2": street2,
                "postal_code": group.get("postal code", ""),
                "city": group.get("city", ""),
                "region": group.get("state", ""),
                "country": group.get("country/region") or group.get("country", ""),
            }
        )
    _put_list(out, "address", addresses, None)
    return out


OUTLOOK = Preset(
    name="outlook",
    format="csv",
    description="Outlook CSV (File > Open & Export > Import/Export > Comma Separated Values)",
    simple={**_O_SIMPLE, **dict.fromkeys(_O_DROPPED, ""), **dict.fromkeys(_O_PHONES, "phone_1")},
    families=((_O_ADDRESS, "address_1_street"),),
    converter=_outlook,
)


# -- Apple Contacts ---------------------------------------------------------------------------------

APPLE = Preset(
    name="apple",
    format="vcf",
    description=(
        "Apple Contacts vCard 3.0 (File > Export > Export vCard): item1.EMAIL with "
        "item1.X-ABLabel labels; ORG's company becomes the organization"
    ),
    properties={"ORG": "organization"},
)

PRESETS: dict[str, Preset] = {p.name: p for p in (GOOGLE, OUTLOOK, APPLE)}


def preset(name: str | None, format: str) -> Preset | None:
    """The preset called ``name`` for files of ``format`` (a 400 naming ``preset``)."""
    if not name:
        return None
    found = PRESETS.get(name.strip().lower())
    if found is None:
        raise BadRequest(
            f"unknown preset {name!r}",
            errors=[FieldError("preset", f"must be one of: {', '.join(PRESETS)}")],
        )
    if found.format != format:
        raise BadRequest(
            f"preset {found.name!r} is for {found.format} files, not {format}",
            errors=[FieldError("preset", f"a {found.format} preset")],
        )
    return found
