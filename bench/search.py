"""A search benchmark you run: seed individuals, index them, time ``q=`` queries.

Usage: ``python -m bench.search [--count N] [--database-url URL]`` (default 100,000
individuals in a temporary SQLite file; pass a PostgreSQL URL to measure there).
Rows go in through the fast path (``executemany``), then ``crmkit.core.search.rebuild``
indexes them (its speed is printed: it is ``crmkit search reindex``), then each query
runs through ``Records.list`` as the API runs it. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable

from crmkit.core import Page, Runtime, load_settings
from crmkit.core.migrate import Migrator
from crmkit.core.query.params import parse_list_params
from crmkit.core.search import rebuild

from .__main__ import FIRST, LAST, TYPES, timed

TITLES = ["Sales manager", "CEO", "Engineer", "Head of solar panels", "Accountant", "Buyer"]
CITIES = ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Ålesund"]
COLUMNS = (
    "id, version, created_at, updated_at, first_name, last_name, emails, phones, "
    "addresses, job_title, type, status, tags, custom, primary_email"
)


def _row(i: int, rng: random.Random, now: dt.datetime) -> tuple[object, ...]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{first.lower()}.{i}@example{i % 97}.no"
    phone = f"+479{i:07d}"
    return (
        uuid.uuid4(),
        1,
        now,
        now,
        first,
        f"{last}{'' if i % 10 else 'sen'}",
        json.dumps([{"address": email, "primary": True}]),
        json.dumps([{"number": phone, "primary": True}]),
        json.dumps([{"type": "work", "city": rng.choice(CITIES)}]),
        rng.choice(TITLES),
        rng.choice(TYPES),
        "active",
        json.dumps(rng.sample(["vip", "newsletter", "partner", "lead"], k=rng.randint(0, 2))),
        "{}",
        email,
    )


async def seed(runtime: Runtime, count: int, rng: random.Random) -> float:
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    marks = ", ".join("{}" for _ in COLUMNS.split(", "))
    for base in range(0, count, 5000):
        rows = [_row(i, rng, now) for i in range(base, min(count, base + 5000))]
        async with runtime.db.transaction():
            await runtime.db.executemany(
                f"INSERT INTO individual ({COLUMNS}) VALUES ({marks})", rows
            )
    return time.perf_counter() - started


async def main(url: str, count: int) -> None:
    runtime = Runtime.create(load_settings(database_url=url, plugins=["individuals"]))
    async with runtime:
        await Migrator(runtime).forwards()
        seconds = await seed(runtime, count, random.Random(7))
        print(f"{runtime.db.kind}: inserted {count} individuals in {seconds:.1f}s")
        started = time.perf_counter()
        done, rows = await rebuild(runtime, "individual")
        seconds = time.perf_counter() - started
        print(
            f"  indexed {done} records ({rows} rows) in {seconds:.1f}s "
            f"({done / seconds:,.0f} records/s)"
        )
        if runtime.db.kind == "postgres":
            await runtime.db.execute("ANALYZE")
        records = runtime.records("individual")

        def run(q: str, *more: tuple[str, str]) -> Callable[[], Awaitable[Page]]:
            return lambda: records.list(parse_list_params([("q", q), *more]))

        first = await records.list(parse_list_params([("q", "kari")]))
        cursor = first.next_cursor or ""
        cases = [
            ("rare word (one match)", run(f"{count // 2}@example")),
            ("prefix, common (kari)", run("kari")),
            ("prefix, 2 letters (jo)", run("jo")),
            ("two words (kari solar)", run("kari solar")),
            ('phrase ("ase odegard")', run('"ase odegard"')),
            ("email part (example42)", run("example42")),
            ("phone digits substring", run(f"{count // 3:07d}"[-5:])),
            ("field term (job_title:ceo)", run("job_title:ceo")),
            ("tag:vip -tag:lead", run("tag:vip -tag:lead")),
            ("kari with sort=-created_at", run("kari", ("sort", "-created_at"))),
            ("kari, second page (cursor)", run("kari", ("cursor", cursor))),
            ("kari with count=true", run("kari", ("count", "true"))),
            ("OR of three names", run("kari OR ola OR per")),
        ]
        for label, fn in cases:
            print(f"  {label:34s} {await timed(fn, repeat=7):8.2f} ms (median)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(args.database_url or f"sqlite:///{folder}/bench.db", args.count))
