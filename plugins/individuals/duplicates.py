"""Likely duplicates: explained and scored.

Rules (each gives a reason; the best score wins, extra reasons add a little):
* the same normalised email (0.95) or phone (0.9);
* the same folded full name within the same organisation (0.9; with organisations on);
* a close or the same name (rapidfuzz ≥ 85) and the same company email domain (0.8);
* the same folded full name alone (0.5; listed, never blocks a create).
Scores of 0.8 and more block a create or update with 409 unless the client says
``X-Skip-Duplicate-Check: true``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

import msgspec
from crmkit.core import Runtime, join, sql
from rapidfuzz import fuzz

from .normalize import name_key

__all__ = ["BLOCKING_SCORE", "Candidate", "Pair", "find_candidates", "find_pairs"]

BLOCKING_SCORE = 0.8
FREE_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "online.no",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "msn.com",
        "yandex.ru",
        "hotmail.no",
    }
)
LINK_TABLE = "individual_organization"
#: A link is current while it has no end date or one still ahead (as organizations says).
_CURRENT = "({t}.end_date IS NULL OR {t}.end_date > {{}})"


class Candidate(msgspec.Struct):
    id: uuid.UUID
    score: float
    reasons: list[str]
    first_name: str | None = None
    last_name: str | None = None


class Pair(msgspec.Struct):
    a: uuid.UUID
    b: uuid.UUID
    score: float
    reasons: list[str]


def _combine(reasons: list[tuple[float, str]]) -> float:
    scores = sorted((s for s, _ in reasons), reverse=True)
    return round(min(1.0, scores[0] + 0.02 * (len(scores) - 1)), 3)


def _full(first: str | None, last: str | None) -> str:
    return " ".join(filter(None, [first, last]))


def _in(values: list[Any]) -> Any:
    return join([sql("{}", v) for v in values], ", ")


def _orgs_enabled(runtime: Runtime) -> bool:
    return "organization" in runtime.plugins.entities


async def find_candidates(
    runtime: Runtime,
    values: dict[str, Any],
    *,
    exclude: uuid.UUID | None = None,
    limit: int = 10,
) -> list[Candidate]:
    """Existing individuals that look like ``values`` (a normalised record), best first."""
    db = runtime.db
    found: dict[uuid.UUID, list[tuple[float, str]]] = defaultdict(list)
    names: dict[uuid.UUID, tuple[str | None, str | None]] = {}
    live = "i.deleted_at IS NULL"
    emails = [e["address"] for e in values.get("emails") or []]
    if emails:
        rows = await db.fetch(
            sql(
                "SELECT e.individual_id AS id, e.address FROM individual_email e "
                f"JOIN individual i ON i.id = e.individual_id WHERE {live} AND e.address IN ({{}})",
                _in(emails),
            )
        )
        for r in rows:
            found[r["id"]].append((0.95, f"same email {r['address']}"))
    phones = [p["number"] for p in values.get("phones") or []]
    if phones:
        rows = await db.fetch(
            sql(
                "SELECT p.individual_id AS id, p.number FROM individual_phone p "
                f"JOIN individual i ON i.id = p.individual_id WHERE {live} AND p.number IN ({{}})",
                _in(phones),
            )
        )
        for r in rows:
            found[r["id"]].append((0.9, f"same phone {r['number']}"))
    key = name_key(values.get("first_name"), values.get("last_name"))
    full = _full(values.get("first_name"), values.get("last_name"))
    if key:
        rows = await db.fetch(
            sql(
                f"SELECT i.id, i.first_name, i.last_name FROM individual i WHERE {live} AND i.name_key = {{}} LIMIT 50",
                key,
            )
        )
        same_org: set[uuid.UUID] = set()
        if rows and exclude is not None and _orgs_enabled(runtime):
            org_rows = await db.fetch(
                sql(
                    f"SELECT b.individual_id AS id FROM {LINK_TABLE} a JOIN {LINK_TABLE} b "
                    "ON a.organization_id = b.organization_id WHERE a.individual_id = {} "
                    f"AND {_CURRENT.format(t='a')} AND {_CURRENT.format(t='b')} "
                    "AND b.individual_id IN ({})",
                    exclude,
                    dt.date.today(),
                    dt.date.today(),
                    _in([r["id"] for r in rows]),
                )
            )
            same_org = {r["id"] for r in org_rows}
        for r in rows:
            names[r["id"]] = (r["first_name"], r["last_name"])
            if r["id"] in same_org:
                found[r["id"]].append((0.9, "same name in the same organisation"))
            else:
                found[r["id"]].append((0.5, "same name"))
    domains = sorted({e.split("@", 1)[1] for e in emails if "@" in e} - FREE_DOMAINS)
    if domains and full:
        rows = await db.fetch(
            sql(
                "SELECT DISTINCT i.id, i.first_name, i.last_name FROM individual_email e "
                f"JOIN individual i ON i.id = e.individual_id WHERE {live} AND e.domain IN ({{}}) LIMIT 500",
                _in(domains),
            )
        )
        for r in rows:
            names[r["id"]] = (r["first_name"], r["last_name"])
            ratio = fuzz.token_sort_ratio(
                full.lower(), _full(r["first_name"], r["last_name"]).lower()
            )
            if name_key(r["first_name"], r["last_name"]) == key:
                found[r["id"]].append((0.8, "same name and same email domain"))
            elif ratio >= 85:
                found[r["id"]].append((0.8, f"similar name ({ratio:.0f}%) and same email domain"))
    found.pop(exclude, None)  # type: ignore[arg-type]
    if not found:
        return []
    missing = [i for i in found if i not in names]
    if missing:
        rows = await db.fetch(
            sql("SELECT id, first_name, last_name FROM individual WHERE id IN ({})", _in(missing))
        )
        names.update({r["id"]: (r["first_name"], r["last_name"]) for r in rows})
    out = [
        Candidate(
            id=i,
            score=_combine(reasons),
            reasons=[r for _, r in sorted(reasons, reverse=True)],
            first_name=names.get(i, (None, None))[0],
            last_name=names.get(i, (None, None))[1],
        )
        for i, reasons in found.items()
    ]
    out.sort(key=lambda c: (-c.score, str(c.id)))
    return out[:limit]


async def find_pairs(runtime: Runtime, *, limit: int = 100, min_score: float = 0.5) -> list[Pair]:
    """Candidate pairs across the whole table, found by blocking (index joins), best first."""
    db = runtime.db
    pairs: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[float, str]]] = defaultdict(list)
    both_live = "ia.deleted_at IS NULL AND ib.deleted_at IS NULL"
    cap = max(limit * 20, 1000)
    for table, column, score, label in (
        ("individual_email", "address", 0.95, "same email"),
        ("individual_phone", "number", 0.9, "same phone"),
    ):
        rows = await db.fetch(
            sql(
                f"SELECT a.individual_id AS a, b.individual_id AS b, a.{column} AS v FROM {table} a "
                f"JOIN {table} b ON a.{column} = b.{column} AND a.individual_id < b.individual_id "
                "JOIN individual ia ON ia.id = a.individual_id JOIN individual ib ON ib.id = b.individual_id "
                f"WHERE {both_live} LIMIT {cap}"
            )
        )
        for r in rows:
            pairs[(r["a"], r["b"])].append((score, f"{label} {r['v']}"))
    rows = await db.fetch(
        sql(
            "SELECT ia.id AS a, ib.id AS b FROM individual ia JOIN individual ib "
            "ON ia.name_key = ib.name_key AND ia.id < ib.id "
            f"WHERE {both_live} AND ia.name_key IS NOT NULL LIMIT {cap}"
        )
    )
    same_org: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if rows and _orgs_enabled(runtime):
        org_rows = await db.fetch(
            sql(
                f"SELECT a.individual_id AS a, b.individual_id AS b FROM {LINK_TABLE} a "
                f"JOIN {LINK_TABLE} b ON a.organization_id = b.organization_id "
                "AND a.individual_id < b.individual_id "
                f"WHERE {_CURRENT.format(t='a')} AND {_CURRENT.format(t='b')} "
                "AND a.individual_id IN ({})",
                dt.date.today(),
                dt.date.today(),
                _in(sorted({r["a"] for r in rows})),
            )
        )
        same_org = {(r["a"], r["b"]) for r in org_rows}
    for r in rows:
        if (r["a"], r["b"]) in same_org:
            pairs[(r["a"], r["b"])].append((0.9, "same name in the same organisation"))
        else:
            pairs[(r["a"], r["b"])].append((0.5, "same name"))
    domains_excluded = _in(sorted(FREE_DOMAINS))
    rows = await db.fetch(
        sql(
            "SELECT DISTINCT ia.id AS a, ib.id AS b, ia.first_name AS af, ia.last_name AS al, "
            "ib.first_name AS bf, ib.last_name AS bl, a.domain AS domain FROM individual_email a "
            "JOIN individual_email b ON a.domain = b.domain AND a.individual_id < b.individual_id "
            "JOIN individual ia ON ia.id = a.individual_id JOIN individual ib ON ib.id = b.individual_id "
            f"WHERE {both_live} AND a.domain NOT IN ({{}}) "
            "AND lower(substr(ia.last_name, 1, 1)) = lower(substr(ib.last_name, 1, 1)) "
            f"LIMIT {cap}",
            domains_excluded,
        )
    )
    for r in rows:
        ratio = fuzz.token_sort_ratio(
            _full(r["af"], r["al"]).lower(), _full(r["bf"], r["bl"]).lower()
        )
        if name_key(r["af"], r["al"]) == name_key(r["bf"], r["bl"]):
            pairs[(r["a"], r["b"])].append((0.8, f"same name and same email domain {r['domain']}"))
        elif ratio >= 85:
            pairs[(r["a"], r["b"])].append(
                (0.8, f"similar name ({ratio:.0f}%) and same email domain {r['domain']}")
            )
    out = [
        Pair(
            a=a, b=b, score=_combine(reasons), reasons=[r for _, r in sorted(reasons, reverse=True)]
        )
        for (a, b), reasons in pairs.items()
    ]
    out = [p for p in out if p.score >= min_score]
    out.sort(key=lambda p: (-p.score, str(p.a), str(p.b)))
    return out[:limit]
