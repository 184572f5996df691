"""A property-based run of Schemathesis over every operation of the app, in-process (ASGI).

For each operation, positive and negative requests generated from the OpenAPI document
(with an admin key): first on random ids, then on records that exist (and each tab
of them). Every response must be no server error, of a documented status and content
type, and match its documented schema.

The app runs on Schemathesis' own event-loop thread, so the database is prepared with
``asyncio.run`` first and the runtime stopped; the app's startup then connects on its
own loop (``Runtime.start`` is idempotent) and its shutdown disconnects.

The run covers every installed plugin's routes plus the example plugin's ``vehicles``;
set ``CRMKIT_SCHEMATHESIS_PLUGINS=example`` to run it over the core surface alone.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
import hypothesis
import pytest
import schemathesis
from crmkit.core import SYSTEM, Runtime
from crmkit.core.api.app import create_app
from crmkit.core.apikeys import create_key
from crmkit.core.migrate import Migrator
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import example_plugin
from tests.conftest import PG_URL, REQUIRE_PG, make_settings

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SEEDED_VEHICLES = 24
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
#: Vehicles' custom fields during the run: the document types ``custom`` with them, so
#: generated bodies exercise that schema and responses are checked against it.
CUSTOM_FIELDS = [
    {"entity": "vehicle", "key": "condition", "type": "select", "options": ["new", "used"],
     "required": True, "default": "used"},
    {"entity": "vehicle", "key": "mileage", "type": "integer",
     "validation": {"min": 0, "max": 2_000_000}},
    {"entity": "vehicle", "key": "extras", "type": "multi_select",
     "options": ["towbar", "roof_rack"]},
]  # fmt: skip
#: The enabled plugins (``None``: every installed one, plus the example plugin).
ENABLED = ["example"] if os.environ.get("CRMKIT_SCHEMATHESIS_PLUGINS") == "example" else None


# -- the database ------------------------------------------------------------------------


async def _prepare(url: str) -> tuple[Runtime, str]:
    """Migrate, create an admin key, custom fields and a few vehicles; leave the runtime
    stopped."""
    settings = make_settings(url, plugins=ENABLED, rate_limit=0)
    runtime = Runtime.create(settings, extra_plugins={"example": example_plugin})
    await runtime.start()
    try:
        await Migrator(runtime).forwards()
        _, key = await create_key(runtime, name="schemathesis", role="admin")
        for definition in CUSTOM_FIELDS:
            await runtime.custom_fields.create(definition)
        vehicles = runtime.records("vehicle")
        for i in range(SEEDED_VEHICLES):
            await vehicles.create(
                {
                    "make": ["Volvo", "Tesla", "Saab"][i % 3],
                    "model": f"M{i}",
                    "year": 1990 + i,
                    "price": Decimal(1000 + i),
                    "tags": ["seed"],
                },
                actor=SYSTEM,
            )
    finally:
        await runtime.stop()
    return runtime, key


async def _create_schema() -> str:
    schema = f"st_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    return schema


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/schemathesis.db"
        return
    try:
        schema = asyncio.run(_create_schema())
    except (OSError, asyncpg.PostgresError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}search_path={schema}"
    finally:
        asyncio.run(_drop_schema(schema))


# -- the run -------------------------------------------------------------------------------


@dataclass
class Run:
    headers: dict[str, str]
    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    #: Custom-field keys with a value in a vehicle the API created or changed during the
    #: run (the seeds have only the default ``condition``).
    custom_keys: set[str] = field(default_factory=set)

    def fuzz(
        self,
        operation: Any,
        mode: schemathesis.GenerationMode,
        label: str,
        path_parameters: dict[str, Any] | None = None,
    ) -> None:
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(headers=self.headers, checks=CHECKS)
            self.calls[operation.label] += 1
            self.statuses[response.status_code] += 1
            if response.status_code in (200, 201) and case.path.startswith("/api/v1/vehicles"):
                body = response.json() if case.method.upper() in ("POST", "PATCH") else None
                if isinstance(body, dict) and isinstance(body.get("custom"), dict):
                    self.custom_keys |= {k for k, v in body["custom"].items() if v is not None}

        try:
            check()
        except hypothesis.errors.Unsatisfiable:
            # nothing to make invalid (GET /health has no parameters at all)
            if mode is not schemathesis.GenerationMode.NEGATIVE:
                raise
        except (Exception, BaseExceptionGroup) as exc:
            self.failures.append(f"== {operation.label} [{mode.value}, {label}]\n{exc}")


def _existing(client: asgi.ASGIClient, headers: dict[str, str], collection: str) -> list[str]:
    r = client.get(collection, params={"limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["data"]]


def _tab_keys(client: asgi.ASGIClient, headers: dict[str, str], record: str) -> list[str]:
    r = client.get(f"{record}/tabs", headers=headers)
    assert r.status_code == 200, r.text
    return [tab["key"] for tab in r.json()]


def _fuzz_app(url: str) -> Run:
    runtime, key = asyncio.run(_prepare(url))
    app = create_app(runtime=runtime)
    run = Run(headers={"Authorization": f"Bearer {key}"})
    try:
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        custom = schema.raw_schema["components"]["schemas"]["VehicleCreate"]["properties"]
        assert list(custom["custom"]["properties"]) == [d["key"] for d in CUSTOM_FIELDS]
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 11

        # every operation on whatever the generator makes of it (ids are random: 404s)
        for operation in operations:
            for mode in MODES:
                run.fuzz(operation, mode, "random")

        # operations on one record, on records that exist (deletes last: they remove them)
        on_records = sorted(
            (o for o in operations if "/{record_id}" in o.path),
            key=lambda o: (o.method.upper() == "DELETE", o.path, o.method),
        )
        with asgi.get_client(app) as client:
            pools = {
                collection: _existing(client, run.headers, collection)
                for collection in {o.path.split("/{record_id}")[0] for o in on_records}
            }
            assert len(pools["/api/v1/vehicles"]) >= SEEDED_VEHICLES
            for operation in on_records:
                pool = pools[operation.path.split("/{record_id}")[0]]
                if not pool:  # an entity the generator could not create a valid record of
                    continue
                record_id = pool.pop() if len(pool) > 1 else pool[0]
                variants = [{"record_id": record_id}]
                if "{key}" in operation.path:
                    record = operation.path.split("/{record_id}")[0] + f"/{record_id}"
                    keys = _tab_keys(client, run.headers, record)
                    variants = [{"record_id": record_id, "key": k} for k in keys]
                for params in variants:
                    for mode in MODES:
                        run.fuzz(operation, mode, f"existing {params}", params)
    finally:
        asgi.shutdown_lifespans()  # the app's shutdown: the runtime disconnects on its loop
    assert not runtime.started
    return run


def test_schemathesis_finds_nothing(database_url: str) -> None:
    run = _fuzz_app(database_url)
    assert not run.failures, "\n\n".join(run.failures)
    # it really exercised the API: every operation, successes and client errors alike
    assert all(run.calls.values()) and len(run.calls) >= 11, run.calls
    assert sum(run.calls.values()) > 500, run.calls
    assert {200, 201, 204, 400, 404, 422} <= set(run.statuses), run.statuses
    assert not [s for s in run.statuses if s >= 500], run.statuses
    # generated bodies carried typed custom values the API accepted
    assert {"condition", "mileage", "extras"} <= run.custom_keys, run.custom_keys
