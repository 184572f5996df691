"""A benchmark you run: bulk actions on N individuals in one call each.

Usage: ``python -m bench.bulk [--count N] [--database-url URL]`` (default: 10,000
individuals in a temporary SQLite file; pass a PostgreSQL URL to measure there). Seeds
the individuals (and one organisation), then times each action once, as one bulk call
through the service (what ``POST /api/v1/individuals/bulk`` runs): a dry run, updates,
tags, a delete and a restore by query, and links of ``--links`` people to one
organisation (fewer: every link event re-indexes that organisation's search document,
whose cost grows with its activity, so linking 10,000 people to one organisation grows
quadratically). Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from typing import Any

from crmkit.core import SYSTEM, ListParams, Runtime, load_settings
from crmkit.core.bulk import run_bulk
from crmkit.core.migrate import Migrator

from .__main__ import seed


async def main(url: str, count: int, links: int) -> None:
    runtime = Runtime.create(
        load_settings(database_url=url, plugins=["individuals", "organizations", "activity"])
    )
    async with runtime:
        await Migrator(runtime).forwards()
        seconds = await seed(runtime, count, random.Random(7))
        print(f"{runtime.db.kind}: created {count} individuals in {seconds:.1f}s")
        page = await runtime.records("individual").list(ListParams(limit=count))
        ids = [r["id"] for r in page.data]
        organization = await runtime.records("organization").create(
            {"name": "Bench AS"}, actor=SYSTEM
        )
        cases: list[tuple[str, str, dict[str, Any]]] = [
            (
                "update (dry run)",
                "update",
                {"params": {"set": {"job_title": "CEO"}}, "dry_run": True},
            ),
            ("update job_title", "update", {"params": {"set": {"job_title": "CEO"}}}),
            ("update again (no change)", "update", {"params": {"set": {"job_title": "CEO"}}}),
            ("add_tags", "add_tags", {"params": {"tags": ["bulk"]}}),
            ("remove_tags", "remove_tags", {"params": {"tags": ["bulk"]}}),
            ("delete", "delete", {}),
            ("restore (by query)", "restore", {"query": {}}),
            (
                "link_organization",
                "link_organization",
                {"params": {"organization_id": organization["id"], "role": "Member"}},
            ),
            (
                "unlink_organization",
                "unlink_organization",
                {"params": {"organization_id": organization["id"]}},
            ),
        ]
        for label, action, kwargs in cases:
            target = {} if "query" in kwargs else {"ids": ids}
            if "link" in action:  # each link re-indexes the one organisation: see the docstring
                target = {"ids": ids[:links]}
            started = time.perf_counter()
            result = await run_bulk(runtime, "individual", action, **target, **kwargs)
            took = time.perf_counter() - started
            print(
                f"  {label:28s} {took:7.2f} s  matched {result.matched:6d}  "
                f"changed {result.changed:6d}  ({result.matched / took:,.0f} records/s)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--links", type=int, default=1_000, help="people linked to one organisation"
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        asyncio.run(main(url, args.count, args.links))
