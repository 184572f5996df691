"""vCard 3.0 / 4.0 for one individual, with ``vobject``."""

from __future__ import annotations

from typing import Any

import vobject

from crmkit.core import BadRequest, FieldError

__all__ = ["VCARD_MEDIA_TYPE", "from_vcard", "to_vcard"]

VCARD_MEDIA_TYPE = "text/vcard"
_ADR_TYPES = {"work": "WORK", "home": "HOME", "postal": "POSTAL", "other": "OTHER"}


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
        filter(None, [record.get("salutation"), record.get("first_name"), record.get("middle_name"), record.get("last_name")])
    )
    for email in record.get("emails") or []:
        line = card.add("email")
        line.value = email["address"]
        types = ["INTERNET"] if version == "3.0" else []
        if email.get("label"):
            types.append(email["label"].upper())
        if email.get("primary"):
            types.append("PREF") if version == "3.0" else None
            if version != "3.0":
                line.params["PREF"] = ["1"]
        if types:
            line.type_param = types
    for phone in record.get("phones") or []:
        line = card.add("tel")
        line.value = phone["number"]
        if phone.get("label"):
            line.type_param = phone["label"].upper()
    for address in record.get("addresses") or []:
        line = card.add("adr")
        line.value = vobject.vcard.Address(
            street=" ".join(filter(None, [address.get("street"), address.get("street2")])),
            city=address.get("city") or "",
            region=address.get("region") or "",
            code=address.get("postal_code") or "",
            country=address.get("country") or "",
        )
        line.type_param = _ADR_TYPES.get(address.get("type") or "other", "OTHER")
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


def from_vcard(text: str) -> dict[str, Any]:
    """The writable values of one card; a card that cannot be read is a 400."""
    try:
        card = vobject.readOne(text)
    except Exception as exc:  # vobject raises many kinds of errors for bad input
        raise BadRequest(f"not a vCard: {exc}", errors=[FieldError("body", "not a vCard")]) from None
    if card.name != "VCARD":
        raise BadRequest("not a vCard", errors=[FieldError("body", "not a vCard")])
    values: dict[str, Any] = {}
    n = getattr(card, "n", None)
    if n is not None:
        values["first_name"] = (n.value.given or "").strip() if isinstance(n.value.given, str) else " ".join(n.value.given)
        values["last_name"] = (n.value.family or "").strip() if isinstance(n.value.family, str) else " ".join(n.value.family)
        extra = n.value.additional if isinstance(n.value.additional, str) else " ".join(n.value.additional)
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
        emails.append({"address": line.value, "label": label, "primary": "pref" in types or "PREF" in line.params})
    phones = []
    for line in card.contents.get("tel", []):
        types = _types(line)
        label = next((t for t in types if t in ("work", "home", "cell", "mobile", "fax", "other")), None)
        phones.append({"number": str(line.value).removeprefix("tel:"), "label": label, "primary": "pref" in types})
    addresses = []
    for line in card.contents.get("adr", []):
        types = _types(line)
        kind = next((t for t in types if t in ("work", "home", "postal")), "other")
        adr = line.value
        addresses.append(
            {
                "type": kind,
                "street": adr.street if isinstance(adr.street, str) else " ".join(adr.street) or None,
                "postal_code": adr.code or None,
                "city": adr.city or None,
                "region": adr.region or None,
                "country": adr.country or None,
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
        values["birthday"] = str(card.bday.value)[:10]
    if hasattr(card, "note"):
        values["notes"] = card.note.value
    if hasattr(card, "categories"):
        values["tags"] = [c for c in card.categories.value if c]
    return values
