"""vCard 3.0 / 4.0 for one individual, with ``vobject``."""

from __future__ import annotations

import re
from typing import Any

import vobject
from crmkit.core import BadRequest, FieldError

__all__ = ["VCARD_MEDIA_TYPE", "from_card", "from_vcard", "to_vcard"]

VCARD_MEDIA_TYPE = "text/vcard"
_ADR_TYPES = {"work": "WORK", "home": "HOME", "postal": "POSTAL", "other": "OTHER"}
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")


def _mark_pref(line: Any, types: list[str], version: str) -> list[str]:
    """Flag a primary line: ``TYPE=PREF`` in 3.0, ``PREF=1`` in 4.0."""
    if version == "3.0":
        return [*types, "PREF"]
    line.params["PREF"] = ["1"]
    return types


def to_vcard(record: dict[str, Any], *, version: str = "4.0") -> str:
    card = vobject.vCard()
    card.add("version").value = version
    card.add("n").value = vobject.vcard.Name(
        family=record.get("last_name") or "",
        given=record.get("first_name") or "",
        additional=record.get("middle_name") or "",
        prefix=record.get("salutation") or "",
    )
    card.add("fn").value = " ".join(
        filter(
            None,
            [
                record.get("salutation"),
                record.get("first_name"),
                record.get("middle_name"),
                record.get("last_name"),
            ],
        )
    )
    for email in record.get("emails") or []:
        line = card.add("email")
        line.value = email["address"]
        types = ["INTERNET"] if version == "3.0" else []
        if email.get("label"):
            types.append(email["label"].upper())
        if email.get("primary"):
            types = _mark_pref(line, types, version)
        if types:
            line.type_param = types
    for phone in record.get("phones") or []:
        line = card.add("tel")
        line.value = phone["number"]
        types = [phone["label"].upper()] if phone.get("label") else []
        if phone.get("primary"):
            types = _mark_pref(line, types, version)
        if types:
            line.type_param = types
    for address in record.get("addresses") or []:
        line = card.add("adr")
        line.value = vobject.vcard.Address(
            # a second street line goes on a line of its own, as Apple and Google write it
            street="\n".join(filter(None, [address.get("street"), address.get("street2")])),
            city=address.get("city") or "",
            region=address.get("region") or "",
            code=address.get("postal_code") or "",
            country=address.get("country") or "",
        )
        types = [_ADR_TYPES.get(address.get("type") or "other", "OTHER")]
        if address.get("primary"):
            types = _mark_pref(line, types, version)
        line.type_param = types
    if record.get("job_title"):
        card.add("title").value = record["job_title"]
    if record.get("department"):
        card.add("org").value = ["", record["department"]]
    if record.get("birthday"):
        card.add("bday").value = str(record["birthday"])
    if record.get("notes"):
        card.add("note").value = record["notes"]
    if record.get("tags"):
        card.add("categories").value = list(record["tags"])
    if record.get("id"):
        card.add("uid").value = f"urn:uuid:{record['id']}"
    return card.serialize()


def _types(line: Any) -> list[str]:
    values: list[str] = []
    for value in line.params.get("TYPE", []):
        values.extend(v.strip().lower() for v in value.split(","))
    return values


def _pref(line: Any, types: list[str]) -> bool:
    """``TYPE=pref`` (3.0) or a ``PREF`` parameter (4.0)."""
    return "pref" in types or "PREF" in line.params


def from_vcard(text: str) -> dict[str, Any]:
    """The writable values of one card; a card that cannot be read is a 400."""
    try:
        card = vobject.readOne(text)
    except Exception as exc:  # vobject raises many kinds of errors for bad input
        raise BadRequest(
            f"not a vCard: {exc}", errors=[FieldError("body", "not a vCard")]
        ) from None
    if card.name != "VCARD":
        raise BadRequest("not a vCard", errors=[FieldError("body", "not a vCard")])
    return from_card(card)


def from_card(card: Any) -> dict[str, Any]:
    """The writable values of one card already read by ``vobject`` (import reads many)."""
    values: dict[str, Any] = {}
    n = getattr(card, "n", None)
    if n is not None:
        values["first_name"] = (
            (n.value.given or "").strip()
            if isinstance(n.value.given, str)
            else " ".join(n.value.given)
        )
        values["last_name"] = (
            (n.value.family or "").strip()
            if isinstance(n.value.family, str)
            else " ".join(n.value.family)
        )
        extra = (
            n.value.additional
            if isinstance(n.value.additional, str)
            else " ".join(n.value.additional)
        )
        prefix = n.value.prefix if isinstance(n.value.prefix, str) else " ".join(n.value.prefix)
        if extra:
            values["middle_name"] = extra
        if prefix:
            values["salutation"] = prefix
    if not values.get("first_name") and hasattr(card, "fn"):
        parts = card.fn.value.split()
        values["first_name"] = " ".join(parts[:-1]) or (parts[0] if parts else "")
        values["last_name"] = parts[-1] if len(parts) > 1 else values.get("last_name", "")
    emails = []
    for line in card.contents.get("email", []):
        types = _types(line)
        label = next((t for t in types if t in ("work", "home", "other")), None)
        emails.append({"address": line.value, "label": label, "primary": _pref(line, types)})
    phones = []
    for line in card.contents.get("tel", []):
        types = _types(line)
        label = next(
            (t for t in types if t in ("work", "home", "cell", "mobile", "fax", "other")), None
        )
        number = str(line.value).removeprefix("tel:")
        phones.append({"number": number, "label": label, "primary": _pref(line, types)})
    addresses = []
    for line in card.contents.get("adr", []):
        types = _types(line)
        kind = next((t for t in types if t in ("work", "home", "postal")), "other")
        adr = line.value
        street = adr.street if isinstance(adr.street, str) else "\n".join(adr.street)
        street_lines = [s.strip() for s in street.splitlines() if s.strip()]
        addresses.append(
            {
                "type": kind,
                "street": street_lines[0] if street_lines else None,
                "street2": " ".join(street_lines[1:]) or None,
                "postal_code": adr.code or None,
                "city": adr.city or None,
                "region": adr.region or None,
                "country": adr.country or None,
                "primary": _pref(line, types),
            }
        )
    for key, items in (("emails", emails), ("phones", phones), ("addresses", addresses)):
        flagged = [i for i in items if i.get("primary")]
        for i in flagged[1:]:
            i["primary"] = False
        if items:
            values[key] = items
    if hasattr(card, "title"):
        values["job_title"] = card.title.value
    if hasattr(card, "org"):
        org = card.org.value
        if isinstance(org, list) and len(org) > 1 and org[1]:
            values["department"] = org[1]
    if hasattr(card, "bday"):
        bday = str(card.bday.value).strip()
        match = _DATE.match(bday)  # 1980-05-17, or 19800517 (RFC 6350), maybe with a time
        values["birthday"] = "-".join(match.groups()) if match else bday
    if hasattr(card, "note"):
        values["notes"] = card.note.value
    if hasattr(card, "categories"):
        values["tags"] = [c for c in card.categories.value if c]
    return values
