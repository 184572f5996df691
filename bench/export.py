"""A benchmark you run: streamed export of N individuals (CSV, JSON Lines, vCard).

Usage: ``python -m bench.export [--count N] [--database-url URL] [--format F ...]``
(default: all three formats of 100,000 individuals in a temporary SQLite file; pass a
PostgreSQL URL to measure there). The rows are inserted with one ``executemany`` (the export is under test, not the inserts),
with two emails, a phone, an address, tags, two custom fields and, for every tenth
person, a primary organisation. Each format is then exported once through the same
:func:`~crmkit.core.transfer.export.prepare` the API streams, into nothing; the
figures are seconds, rows per second and the growth of the process's peak memory.
The bar (PITFALLS.md): 1M rows of CSV in ~6.5 s with ~10 MB extra memory.
Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import resource
import tempfile
import time
import uuid

from crmkit.core import Runtime, load_settings
from crmkit.core.migrate import Migrator
from crmkit.core.transfer.export import prepare

from .__main__ import FIRST, LAST, TYPES


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


async def seed(runtime: Runtime, count: int, rng: random.Random) -> float:
    started = time.perf_counter()
    for key, kind in (("budget", "number"), ("since", "date")):
        await runtime.custom_fields.create({"entity": "individual", "key": key, "type": kind})
    now = dt.datetime.now(dt.UTC)
    org_id = uuid.uuid4()
    await runtime.db.executemany(
        "INSERT INTO organization (id, version, created_at, updated_at, tags, custom, name, "
        "emails, phones, addresses) VALUES ({}, 1, {}, {}, '[]', {}, {}, '[]', '[]', '[]')",
        [(org_id, now, now, "{}", "Bench AS")],
    )
    chunk = 5000
    for base in range(0, count, chunk):
        people, links = [], []
        for i in range(base, min(count, base + chunk)):
            person_id = uuid.uuid4()
            first, last = rng.choice(FIRST), rng.choice(LAST)
            emails = [
                {"address": f"person{i}@example{i % 97}.no", "label": "work", "primary": True},
                {"address": f"p{i}@home.example", "label": None, "primary": False},
            ]
            phones = [{"number": f"+47{90000000 + i}", "label": "mobile", "primary": True}]
            addresses = [
                {"type": "work", "street": f"Storgata {i % 200}", "street2": None,
                 "postal_code": "0155", "city": "Oslo", "region": None, "country": "NO",
                 "primary": True},
            ]  # fmt: skip
            tags = rng.sample(["vip", "newsletter", "partner", "lead"], k=rng.randint(0, 2))
            custom = {"budget": rng.randint(0, 10**6), "since": "2020-01-01"}
            people.append(
                (
                    person_id,
                    now,
                    now,
                    json.dumps(tags),
                    json.dumps(custom),
                    first,
                    last,
                    json.dumps(emails),
                    json.dumps(phones),
                    json.dumps(addresses),
                    rng.choice(TYPES),
                    emails[0]["address"],
                )
            )
            if i % 10 == 0:
                links.append((uuid.uuid4(), person_id, org_id, "Member", True, now, now))
        await runtime.db.executemany(
            "INSERT INTO individual (id, version, created_at, updated_at, tags, custom, "
            "first_name, last_name, emails, phones, addresses, type, status, primary_email) "
            "VALUES ({}, 1, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 'active', {})",
            people,
        )
        await runtime.db.executemany(
            'INSERT INTO individual_organization (id, individual_id, organization_id, role, "primary", '
            "created_at, updated_at) VALUES ({}, {}, {}, {}, {}, {}, {})",
            links,
        )
    return time.perf_counter() - started


async def main(url: str, count: int, formats: list[str]) -> None:
    runtime = Runtime.create(
        load_settings(database_url=url, plugins=["individuals", "organizations"])
    )
    async with runtime:
        await Migrator(runtime).forwards()
        seconds = await seed(runtime, count, random.Random(7))
        print(f"{runtime.db.kind}: inserted {count} individuals in {seconds:.1f}s")
        entity = runtime.plugins.entity("individual")
        for fmt in formats:
            before = _peak_mb()
            started = time.perf_counter()
            job = await prepare(runtime, entity, None, [], format=fmt)
            size = rows = 0
            async for n, data in job.batches():
                rows += n
                size += len(data)
            seconds = time.perf_counter() - started
            print(
                f"  export {fmt:5s} {rows} rows, {size / 2**20:7.1f} MB in {seconds:6.2f}s "
                f"({rows / seconds:8,.0f} rows/s), peak memory +{_peak_mb() - before:.1f} MB"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--format", action="append", choices=["csv", "jsonl", "vcf"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        asyncio.run(main(url, args.count, args.format or ["csv", "jsonl", "vcf"]))
