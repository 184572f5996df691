"""Normalising an organisation before it is saved: every problem is reported at once.

Emails, phones and addresses go through the very rules individuals use (one primary
each, E.164 phones, ISO countries, postal-code formats); the website gets a scheme and
a lower-case host, and the domain is derived from it when empty.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crmkit.core import FieldError
from crmkit.plugins.individuals.normalize import RULES, Config

__all__ = ["domain_of", "normalise", "normalise_domain", "normalise_website"]

_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.I)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CONTACT_RULES = [r for r in RULES if r.name in ("emails", "addresses", "phones")]
_TEXT_FIELDS = ("name", "legal_name", "industry", "type")


def _valid_host(host: str) -> bool:
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    return (
        len(ascii_host) <= 253
        and len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


def normalise_website(value: str) -> str:
    """``Acme.COM/about`` -> ``https://acme.com/about``; ``ValueError`` when not a web URL."""
    text = value.strip()
    if not _SCHEME.match(text):
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host or not _valid_host(host):
        raise ValueError("not a valid URL: the host name is missing or malformed")
    netloc = f"{host}:{port}" if port else host
    path = "" if parts.path == "/" else parts.path
    if any(c.isspace() for c in path + parts.query + parts.fragment):
        raise ValueError("not a valid URL: it contains spaces")
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, parts.fragment))


def domain_of(website: str) -> str:
    """The domain of a normalised website, without a leading ``www.``."""
    host = urlsplit(website).hostname or ""
    return host.removeprefix("www.")


def normalise_domain(value: str) -> str:
    """Lower-case and checked (``@Acme.com`` -> ``acme.com``); ``ValueError`` when malformed."""
    text = value.strip().lower().lstrip("@").rstrip(".")
    if _SCHEME.match(text):
        raise ValueError("a domain, not a URL (put the URL in website)")
    if not _valid_host(text):
        raise ValueError("not a valid domain name (e.g. acme.com)")
    return text


def _collapse(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    return value


def normalise(
    values: dict[str, Any],
    old: dict[str, Any] | None,
    config: Config,
    types: tuple[str, ...] | None,
) -> list[FieldError]:
    """Normalise ``values`` in place; returns every problem found."""
    errors: list[FieldError] = []
    for field in _TEXT_FIELDS:
        values[field] = _collapse(values.get(field))
    if not values.get("name"):
        errors.append(FieldError("name", "must not be blank"))
    number = values.get("org_number")
    if isinstance(number, str):
        values["org_number"] = "".join(number.split()).upper() or None
    website = values.get("website")
    if isinstance(website, str) and website.strip():
        try:
            values["website"] = normalise_website(website)
        except ValueError as exc:
            errors.append(FieldError("website", str(exc)))
    else:
        values["website"] = None
    domain = values.get("domain")
    old = old or {}
    derived_before = old.get("website") and old.get("domain") == domain_of(old["website"])
    keeps_derived = derived_before and domain == old.get("domain")
    if isinstance(domain, str) and domain.strip() and not keeps_derived:
        try:
            values["domain"] = normalise_domain(domain)
        except ValueError as exc:
            errors.append(FieldError("domain", str(exc)))
    elif values["website"] and not any(e.field == "website" for e in errors):
        values["domain"] = domain_of(values["website"])  # derived (again, if it was derived)
    elif not (isinstance(domain, str) and domain.strip()):
        values["domain"] = None
    if types and values.get("type") is not None and values["type"] not in types:
        errors.append(FieldError("type", f"must be one of {', '.join(types)}"))
    for rule in _CONTACT_RULES:
        errors.extend(rule.apply(values, config))
    return errors
