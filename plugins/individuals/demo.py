"""``crmkit demo``: realistic demo people, and organisations when that plugin is enabled.

People from several countries, with phone numbers valid for their country, real
postal codes, emails made from their names (at their company's domain or a free-mail
one), job titles, types from the configured list and tags. With organisations: about
one organisation per eight people, each person's job as a primary link (one CEO per
organisation), some board seats and some ended links as history. A few planted
duplicates (the same email under a misspelt name, the same phone) give
``/api/v1/individuals/duplicates`` something to find. ``--seed`` makes it repeatable.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import click
import msgspec
import phonenumbers
from crmkit.core import SYSTEM, Runtime

from .demo_data import COUNTRIES, FAMOUS, ORG_TAGS, ROLES, SIDE_ROLES, TAGS, Country
from .normalize import DEFAULT_TYPES, name_key

__all__ = ["DemoPlan", "LinkPlan", "PersonPlan", "demo_command", "load", "plan_demo", "typo"]

CHUNK = 200
ORG_TYPES = ("customer", "prospect", "partner", "supplier")
TYPE_WEIGHTS = {"customer": 35, "contact": 30, "prospect": 20, "supplier": 10, "employee": 5}


@dataclass
class LinkPlan:
    organization: int  # index into DemoPlan.organizations
    role: str | None
    primary: bool = False
    start_date: dt.date | None = None
    end_date: dt.date | None = None


@dataclass
class PersonPlan:
    values: dict[str, Any]
    links: list[LinkPlan] = field(default_factory=list)


@dataclass
class DemoPlan:
    organizations: list[dict[str, Any]]
    people: list[PersonPlan]
    #: (index of the original, index of the planted duplicate, why)
    duplicates: list[tuple[int, int, str]]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name_key(text, None))


def typo(rng: random.Random, word: str) -> str:
    """``word`` with one slip of the keyboard (swapped, dropped or doubled letter)."""
    for _ in range(20):
        i = rng.randrange(1, len(word)) if len(word) > 2 else 1
        kind = rng.choice(("swap", "drop", "double"))
        if kind == "swap" and i < len(word) - 1:
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif kind == "drop" and len(word) > 3:
            out = word[:i] + word[i + 1 :]
        else:
            out = word[:i] + word[i - 1] + word[i:]
        if out != word and out.lower() != word.lower():
            return out
    return word + word[-1]


class _Generator:
    def __init__(
        self, rng: random.Random, types: Sequence[str], org_types: Sequence[str], today: dt.date
    ) -> None:
        self.rng = rng
        self.types = list(types)
        self.type_weights = [TYPE_WEIGHTS.get(t, 10) for t in self.types]
        self.org_types = list(org_types)
        self.today = today
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.domains: set[str] = set()
        self.org_names: set[str] = set()
        self.countries = {c.code: c for c in COUNTRIES}

    def country(self) -> Country:
        return self.rng.choices(COUNTRIES, weights=[c.weight for c in COUNTRIES])[0]

    def phone(self, country: Country, mobile: bool = True) -> str:
        """A valid, unused number of the country, written the international way."""
        kind = (
            phonenumbers.PhoneNumberType.MOBILE
            if mobile
            else phonenumbers.PhoneNumberType.FIXED_LINE
        )
        example = phonenumbers.example_number_for_type(country.code, kind)
        national = str(example.national_number)
        keep = max(1, len(national) - 6)
        number = example
        for _ in range(200):
            digits = national[:keep] + "".join(str(self.rng.randrange(10)) for _ in national[keep:])
            candidate = phonenumbers.parse(f"+{example.country_code}{digits}")
            e164 = phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_valid_number(candidate) and e164 not in self.phones:
                number = candidate
                break
        self.phones.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    def address(self, country: Country, kind: str) -> dict[str, Any]:
        postal_code, city, region = self.rng.choice(country.cities)
        street = country.street_format.format(
            street=self.rng.choice(country.streets), n=self.rng.randint(1, 120)
        )
        return {
            "type": kind,
            "street": street,
            "postal_code": postal_code,
            "city": city,
            "region": region,
            "country": country.code,
        }

    def email(self, first: str, last: str, domain: str, *, company: bool) -> str:
        given, family = _slug(first), _slug(last)
        styles = (
            ["{f}.{l}"] if company else ["{f}.{l}", "{f}{l}", "{f}_{l}", "{i}.{l}", "{f}.{l}{n}"]
        )
        local = self.rng.choice(styles).format(
            f=given, l=family, i=given[:1], n=self.rng.randint(1, 99)
        )
        address, n = f"{local}@{domain}", 1
        while address in self.emails:
            n += 1
            address = f"{local}{n}@{domain}"
        self.emails.add(address)
        return address

    def org_number(self, country: Country) -> str:
        rng = self.rng
        if country.code == "NO":  # nine digits, the last a mod-11 check digit
            while True:
                digits = [rng.choice((8, 9))] + [rng.randrange(10) for _ in range(7)]
                check = (
                    11
                    - sum(d * w for d, w in zip(digits, (3, 2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
                )
                if check == 11:
                    check = 0
                if check != 10:
                    text = "".join(map(str, [*digits, check]))
                    return f"{text[:3]} {text[3:6]} {text[6:]}"
        formats = {
            "SE": lambda: f"556{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            "DK": lambda: f"{rng.randint(10_000_000, 99_999_999)}",
            "DE": lambda: f"HRB {rng.randint(10_000, 199_999)}",
            "GB": lambda: f"{rng.randint(1_000_000, 9_999_999):08d}",
            "IE": lambda: f"{rng.randint(100_000, 999_999)}",
            "ES": lambda: f"B{rng.randint(10_000_000, 99_999_999)}",
            "US": lambda: f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}",
        }
        return formats.get(country.code, lambda: f"{rng.randint(10**9, 10**10 - 1)}")()

    def organization(self, country: Country) -> dict[str, Any]:
        rng = self.rng
        prefix, (word, industry) = (
            rng.choice(country.company_prefixes),
            rng.choice(country.company_cores),
        )
        name = f"{prefix} {word} {country.company_suffix}"
        while name in self.org_names:
            name = f"{prefix} {word} {rng.choice(country.cities)[1]} {country.company_suffix}"
            if name in self.org_names:
                name = f"{prefix} {word} {rng.randint(2, 99)} {country.company_suffix}"
        self.org_names.add(name)
        slug = _slug(f"{prefix}{word}")
        domain, n = f"{slug}.{country.tld}", 1
        while domain in self.domains:
            n += 1
            domain = f"{slug}{n}.{country.tld}"
        self.domains.add(domain)
        for local in ("post", "invoice"):
            self.emails.add(f"{local}@{domain}")
        return {
            "name": name,
            "legal_name": name,
            "org_number": self.org_number(country),
            "website": f"www.{domain}",
            "industry": industry,
            "type": rng.choice(self.org_types) if self.org_types else None,
            "emails": [
                {"address": f"post@{domain}", "label": "general"},
                {"address": f"invoice@{domain}", "label": "billing"},
            ],
            "phones": [{"number": self.phone(country, mobile=False), "label": "switchboard"}],
            "addresses": [self.address(country, "work")],
            "tags": rng.sample(ORG_TAGS, rng.randint(0, 2)),
        }

    def person(self, country: Country, first: str, last: str) -> dict[str, Any]:
        rng = self.rng
        values: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "phones": [{"number": self.phone(country), "label": "mobile"}],
            "addresses": [self.address(country, "home")] if rng.random() < 0.7 else [],
            "type": rng.choices(self.types, weights=self.type_weights)[0],
            "timezone": rng.choice(country.timezones),
            "language": country.language,
            "preferred_contact_method": rng.choice(("email", "email", "phone", "sms", None)),
            "tags": rng.sample(TAGS, rng.choices((0, 1, 2), weights=(5, 3, 2))[0]),
        }
        if rng.random() < 0.25:
            values["birthday"] = self.today - dt.timedelta(days=rng.randint(20 * 365, 70 * 365))
        return values


def _start(rng: random.Random, today: dt.date, low: int, high: int) -> dt.date:
    return today - dt.timedelta(days=rng.randint(low, high))


def plan_demo(
    count: int,
    *,
    seed: int | None = None,
    with_organizations: bool = True,
    types: Sequence[str] = DEFAULT_TYPES,
    org_types: Sequence[str] = ORG_TYPES,
    today: dt.date | None = None,
) -> DemoPlan:
    """The demo data to create, decided up front (the same for the same seed and day)."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    gen = _Generator(rng, types, org_types, today)
    n_orgs = max(1, round(count / 8)) if with_organizations and count >= 2 else 0
    org_countries = [gen.country() for _ in range(n_orgs)]
    organizations = [gen.organization(c) for c in org_countries]
    has_ceo: set[int] = set()
    pairs = 0 if count < 6 else max(1, count // 50)
    base = count - 2 * pairs
    people: list[PersonPlan] = []
    for i in range(base):
        if i < len(FAMOUS) and base >= 2 * len(FAMOUS):
            code, first, last = FAMOUS[i]
            country = gen.countries[code]
        else:
            country = gen.country()
            first, last = rng.choice(country.first_names), rng.choice(country.last_names)
        values = gen.person(country, first, last)
        plan = PersonPlan(values)
        employer = None
        if organizations and rng.random() < 0.8:
            local = [j for j, c in enumerate(org_countries) if c.code == country.code]
            employer = rng.choice(local if local and rng.random() < 0.75 else range(n_orgs))
            role = (
                "CEO" if employer not in has_ceo else rng.choice([r for r in ROLES if r != "CEO"])
            )
            has_ceo.add(employer)
            values["job_title"] = rng.choice(ROLES[role])
            if role == "CEO" and country.code == "NO" and rng.random() < 0.5:
                values["job_title"] = "Daglig leder"
            plan.links.append(
                LinkPlan(employer, role, primary=True, start_date=_start(rng, today, 30, 3650))
            )
            others = [j for j in range(n_orgs) if j != employer]
            if others and rng.random() < 0.12:
                plan.links.append(
                    LinkPlan(
                        rng.choice(others),
                        rng.choice(SIDE_ROLES),
                        start_date=_start(rng, today, 30, 2000),
                    )
                )
        elif rng.random() < 0.5:
            values["job_title"] = rng.choice([t for titles in ROLES.values() for t in titles])
        if organizations and rng.random() < 0.2:
            start = _start(rng, today, 2500, 7000)
            end = min(
                start + dt.timedelta(days=rng.randint(300, 2000)), today - dt.timedelta(days=1)
            )
            past = rng.randrange(n_orgs)
            if past != employer:
                plan.links.append(
                    LinkPlan(past, rng.choice(list(ROLES)), start_date=start, end_date=end)
                )
        if employer is not None and rng.random() < 0.85:
            domain = organizations[employer]["website"].removeprefix("www.")
            emails = [{"address": gen.email(first, last, domain, company=True), "label": "work"}]
            if rng.random() < 0.3:
                emails.append(
                    {
                        "address": gen.email(
                            first, last, rng.choice(country.free_mail), company=False
                        ),
                        "label": "private",
                    }
                )
        else:
            emails = [
                {
                    "address": gen.email(first, last, rng.choice(country.free_mail), company=False),
                    "label": "private",
                }
            ]
        values["emails"] = emails
        if employer is not None and rng.random() < 0.3:
            values["phones"].append({"number": gen.phone(country, mobile=False), "label": "work"})
        people.append(plan)
    duplicates: list[tuple[int, int, str]] = []
    originals = rng.sample(range(base), min(base, 2 * pairs))
    for n, index in enumerate(originals):
        original = people[index].values
        copy = {k: v for k, v in original.items() if k not in ("emails", "phones")}
        country = gen.countries[_country_of(original)]
        if n % 2 == 0:  # the same email under a misspelt name, another phone
            copy["first_name"] = typo(rng, original["first_name"])
            copy["emails"] = [dict(original["emails"][0])]
            copy["phones"] = [{"number": gen.phone(country), "label": "mobile"}]
            why = "same email"
        else:  # the same phone under a misspelt surname, a private email
            copy["last_name"] = typo(rng, original["last_name"])
            copy["phones"] = [dict(original["phones"][0])]
            copy["emails"] = [
                {
                    "address": gen.email(
                        copy["first_name"],
                        copy["last_name"],
                        rng.choice(country.free_mail),
                        company=False,
                    ),
                    "label": "private",
                }
            ]
            why = "same phone"
        duplicates.append((index, len(people), why))
        people.append(PersonPlan(copy))
    return DemoPlan(organizations=organizations, people=people, duplicates=duplicates)


def _country_of(values: dict[str, Any]) -> str:
    number = phonenumbers.parse(values["phones"][0]["number"])
    return phonenumbers.region_code_for_number(number) or "NO"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def load(
    runtime: Runtime, plan: DemoPlan, progress: Callable[[int], None] = lambda n: None
) -> dict[str, int]:
    """Create the planned records (one unit of work per chunk); returns what was created."""
    created = {"people": 0, "organizations": 0, "links": 0}
    data = {"skip_duplicate_check": True, "demo": True}
    org_ids: list[Any] = []
    if plan.organizations:
        organizations = runtime.records("organization")
        for chunk in _chunks(plan.organizations, CHUNK):
            async with runtime.write():
                for values in chunk:
                    values = msgspec.structs.asdict(
                        msgspec.convert(values, organizations.entity.create_type)
                    )
                    record = await organizations.create(
                        values, actor=SYSTEM, source="cli", data=data
                    )
                    org_ids.append(record["id"])
                    created["organizations"] += 1
                    progress(1)
    create_link: Any = None
    if any(p.links for p in plan.people):
        from crmkit.plugins.organizations.links import create_link  # only with organisations on
    individuals = runtime.records("individual")
    for chunk in _chunks(plan.people, CHUNK):
        async with runtime.write():
            for person in chunk:
                values = msgspec.structs.asdict(
                    msgspec.convert(person.values, individuals.entity.create_type)
                )
                record = await individuals.create(values, actor=SYSTEM, source="cli", data=data)
                created["people"] += 1
                for link in person.links:
                    await create_link(
                        runtime,
                        record["id"],
                        {
                            "organization_id": org_ids[link.organization],
                            "role": link.role,
                            "primary": link.primary,
                            "start_date": link.start_date,
                            "end_date": link.end_date,
                        },
                        actor=SYSTEM,
                        source="cli",
                    )
                    created["links"] += 1
                progress(1)
    return created


async def _check_migrated(runtime: Runtime, tables: list[str]) -> None:
    for table in tables:
        try:
            await runtime.db.fetch(f"SELECT 1 FROM {table} LIMIT 1")
        except (sqlite3.Error, asyncpg.PostgresError):
            raise click.ClickException(
                f"the database has no {table} table: run `crmkit migrate` first "
                "(demo needs a migrated database)"
            ) from None


@click.command("demo")
@click.option(
    "--count",
    default=200,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="How many people to create.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the random choices (the same seed gives the same data).",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing when the database already has people (what `make run` uses).",
)
def demo_command(count: int, seed: int | None, if_empty: bool = False) -> None:
    """Load realistic demo people (and organisations, when that plugin is enabled)."""
    from crmkit.cli.context import with_runtime

    if seed is None:
        seed = random.SystemRandom().randrange(1_000_000)

    async def run(runtime: Runtime) -> dict[str, int]:
        with_orgs = "organization" in runtime.plugins.entities
        tables = ["individual", *(["organization", "individual_organization"] if with_orgs else [])]
        await _check_migrated(runtime, tables)
        if if_empty and await runtime.db.fetchval("SELECT COUNT(*) AS n FROM individual"):
            return {}
        from . import config

        people_config = config(runtime)[0]
        org_types = runtime.settings.plugin_settings("organizations").get("types") or ORG_TYPES
        plan = plan_demo(
            count,
            seed=seed,
            with_organizations=with_orgs,
            types=people_config.types,
            org_types=org_types,
        )
        total = len(plan.people) + len(plan.organizations)
        with click.progressbar(length=total, label="Creating demo data") as bar:
            created = await load(runtime, plan, bar.update)
        created["duplicates"] = len(plan.duplicates)
        return created

    created = with_runtime(run)
    if not created:
        click.echo("The database already has people: no demo data added (--if-empty).")
        return
    orgs = (
        f", {created['organizations']} organisations and {created['links']} links"
        if created["organizations"]
        else ""
    )
    click.echo(f"Created {created['people']} people{orgs} (seed {seed}).")
    if created["duplicates"]:
        click.echo(
            f"{created['duplicates']} of them are planted duplicates: "
            "see GET /api/v1/individuals/duplicates."
        )
