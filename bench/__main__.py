"""A benchmark you run (``make bench``): seed individuals, then time the list paths.

Usage: ``python -m bench [--count N] [--database-url URL]`` (default: a temporary
SQLite file; pass a PostgreSQL URL to measure there). Prints the median of repeated
runs for each operation. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from crmkit.core import SYSTEM, ListParams, Runtime, load_settings
from crmkit.core.migrate import Migrator
from crmkit.core.query.params import parse_list_params

FIRST = [
    "Kari",
    "Ola",
    "Åse",
    "Per",
    "Ingrid",
    "José",
    "Maria",
    "John",
    "Anna",
    "Lars",
    "Nina",
    "Erik",
]
LAST = [
    "Nordmann",
    "Hansen",
    "Ødegård",
    "Berg",
    "Johansen",
    "García",
    "Smith",
    "Larsen",
    "Olsen",
    "Dahl",
]
TYPES = ["customer", "contact", "prospect", "supplier", "employee"]


async def seed(runtime: Runtime, count: int, rng: random.Random) -> float:
    records = runtime.records("individual")
    started = time.perf_counter()
    chunk = 500
    for base in range(0, count, chunk):
        async with runtime.write():
            for i in range(base, min(count, base + chunk)):
                await records.create(
                    {
                        "first_name": rng.choice(FIRST),
                        "last_name": rng.choice(LAST),
                        "emails": [{"address": f"person{i}@example{i % 97}.no"}],
                        "type": rng.choice(TYPES),
                        "tags": rng.sample(
                            ["vip", "newsletter", "partner", "lead"], k=rng.randint(0, 2)
                        ),
                    },
                    actor=SYSTEM,
                    source="import",
                    data={"skip_duplicate_check": True},
                )
    return time.perf_counter() - started


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def main(url: str, count: int) -> None:
    runtime = Runtime.create(load_settings(database_url=url, plugins=["individuals"]))
    async with runtime:
        await Migrator(runtime).forwards()
        rng = random.Random(7)
        seconds = await seed(runtime, count, rng)
        print(
            f"{runtime.db.kind}: created {count} individuals in {seconds:.1f}s ({count / seconds:.0f}/s)"
        )
        records = runtime.records("individual")

        def params(*pairs: tuple[str, str]) -> ListParams:
            return parse_list_params(list(pairs))

        page = await records.list(params(("limit", "50")))
        cursor = page.next_cursor or ""
        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("first page, default sort", lambda: records.list(params(("limit", "50")))),
            (
                "second page (cursor)",
                lambda: records.list(params(("limit", "50"), ("cursor", cursor))),
            ),
            (
                "filter type + sort -created_at",
                lambda: records.list(params(("type", "customer"), ("sort", "-created_at"))),
            ),
            ("filter tag=vip", lambda: records.list(params(("tag", "vip")))),
            (
                "filter email=",
                lambda: records.list(
                    params(("email", f"person{count // 2}@example{(count // 2) % 97}.no"))
                ),
            ),
            (
                "count=true with type filter",
                lambda: records.list(params(("type", "prospect"), ("count", "true"))),
            ),
            ("get one", lambda: records.get(page.data[0]["id"])),
        ]
        for label, fn in cases:
            print(f"  {label:34s} {await timed(fn):8.2f} ms (median)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(args.database_url or f"sqlite:///{folder}/bench.db", args.count))
