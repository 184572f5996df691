"""The OpenAPI document: 3.1, unique operation ids, security, and real schemas per entity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime, hookimpl
from crmkit.core.api.app import create_app
from crmkit.core.migrate import Migrator
from litestar import get
from litestar.params import FromQuery

from tests import example_plugin
from tests.conftest import make_settings

METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
PROBLEM = "application/problem+json"
SECURITY = [{"ApiKey": []}, {"Bearer": []}]


@pytest.fixture
async def doc(anon: httpx.AsyncClient) -> dict[str, Any]:
    r = await anon.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/")
    return r.json()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def ref(schema: dict[str, Any]) -> str:
    """The component a schema (or its only ``oneOf`` branch) refers to."""
    if "$ref" in schema:
        return schema["$ref"]
    branches = [b for b in schema.get("oneOf", []) if b.get("type") != "null"]
    assert len(branches) == 1, schema
    return branches[0]["$ref"]


def component(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return doc["components"]["schemas"][name]


def op(doc: dict[str, Any], operation_id: str) -> dict[str, Any]:
    found = [o for _, _, o in operations(doc) if o.get("operationId") == operation_id]
    assert len(found) == 1, operation_id
    return found[0]


def response_schema(operation: dict[str, Any], status: str, media: str) -> dict[str, Any]:
    return operation["responses"][status]["content"][media]["schema"]


async def test_the_document_is_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    assert doc["info"]["title"] == "crmkit"
    assert doc["info"]["version"]
    assert "/api/v1/vehicles" in doc["paths"]


async def test_every_operation_has_a_unique_operation_id(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    assert len(ops) >= 11
    ids = [o.get("operationId") for _, _, o in ops]
    assert all(ids), [(p, m) for (p, m, o) in ops if not o.get("operationId")]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


async def test_every_api_operation_declares_the_security_schemes(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    assert schemes["ApiKey"]["type"] == "apiKey"
    assert schemes["ApiKey"]["in"] == "header" and schemes["ApiKey"]["name"] == "X-API-Key"
    api = [(p, m, o) for p, m, o in operations(doc) if p.startswith("/api/v1/")]
    assert api
    for path, method, operation in api:
        security = operation.get("security")
        assert security, (method, path)
        for requirement in SECURITY:
            assert requirement in security, (method, path, security)
    # the public routes need no key
    assert not op(doc, "health").get("security")
    assert not doc.get("security")


async def test_every_api_error_response_is_a_problem(doc: dict[str, Any]) -> None:
    for path, method, operation in operations(doc):
        if not path.startswith("/api/v1/"):
            continue
        codes = operation["responses"]
        assert "401" in codes and "400" in codes, (method, path, list(codes))
        for status, response in codes.items():
            if not status.startswith("4"):
                continue
            assert list(response["content"]) == [PROBLEM], (method, path, status)
            name = ref(response["content"][PROBLEM]["schema"]).rsplit("/", 1)[1]
            schema = component(doc, name)  # core's Problem, or a plugin's copy of it
            assert {"type", "title", "status"} <= set(schema["required"]), (method, path, name)
            if path.startswith("/api/v1/vehicles"):  # the core's own entity surface
                assert name == "Problem", (method, path, status)


async def test_the_problem_schema(doc: dict[str, Any]) -> None:
    problem = component(doc, "Problem")
    assert set(problem["required"]) == {"type", "title", "status"}
    props = problem["properties"]
    assert {"type", "title", "status", "detail", "instance", "errors", "correlation_id"} <= set(
        props
    )
    assert props["status"]["type"] == "integer"
    assert props["errors"]["items"]["$ref"] == "#/components/schemas/ProblemField"
    field = component(doc, "ProblemField")
    assert set(field["required"]) == {"field", "message"}


async def test_create_takes_the_create_schema(doc: dict[str, Any]) -> None:
    create = op(doc, "create_vehicle")
    body = create["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]
    assert ref(body["content"]["application/json"]["schema"]) == (
        "#/components/schemas/VehicleCreate"
    )
    schema = component(doc, "VehicleCreate")
    assert schema["type"] == "object"
    assert schema["required"] == ["make"]
    # unknown fields are a 422 (API.md): the schema forbids them too
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert {"make", "model", "year", "vin", "price", "status", "tags", "custom"} <= set(props)
    assert props["make"]["minLength"] == 1 and props["make"]["maxLength"] == 100
    assert props["status"]["enum"] == ["in_stock", "reserved", "sold"]
    assert props["tags"]["type"] == "array"
    assert props["custom"]["type"] == "object"
    # the base fields are the server's, not the client's
    assert not {"id", "version", "created_at", "updated_at"} & set(props)


async def test_patch_takes_the_patch_schema(doc: dict[str, Any]) -> None:
    update = op(doc, "update_vehicle")
    schema_ref = ref(update["requestBody"]["content"]["application/json"]["schema"])
    assert schema_ref == "#/components/schemas/VehiclePatch"
    schema = component(doc, "VehiclePatch")
    assert not schema.get("required")
    assert schema["additionalProperties"] is False
    assert "make" in schema["properties"]


async def test_record_responses_reference_the_read_schema(doc: dict[str, Any]) -> None:
    vehicle = "#/components/schemas/Vehicle"
    for operation_id, status in (
        ("create_vehicle", "201"),
        ("get_vehicle", "200"),
        ("update_vehicle", "200"),
        ("restore_vehicle", "200"),
        ("duplicate_vehicle", "201"),
    ):
        operation = op(doc, operation_id)
        assert ref(response_schema(operation, status, "application/json")) == vehicle
    assert op(doc, "delete_vehicle")["responses"]["204"].get("content") is None
    schema = component(doc, "Vehicle")
    assert {
        "id",
        "version",
        "created_at",
        "updated_at",
        "deleted_at",
        "tags",
        "custom",
        "make",
    } <= (set(schema["properties"]))
    assert schema["properties"]["id"]["format"] == "uuid"
    assert schema["properties"]["version"]["type"] == "integer"


async def test_list_responses_reference_the_page_schema(doc: dict[str, Any]) -> None:
    listing = op(doc, "list_vehicles")
    assert ref(response_schema(listing, "200", "application/json")) == (
        "#/components/schemas/VehiclePage"
    )
    page = component(doc, "VehiclePage")
    assert set(page["required"]) == {"data", "next_cursor", "total"}
    assert page["properties"]["data"]["items"]["$ref"] == "#/components/schemas/Vehicle"
    params = {p["name"]: p for p in listing["parameters"]}
    assert {"limit", "cursor", "sort", "count", "q"} <= set(params)
    assert params["limit"]["in"] == "query"
    assert params["limit"]["schema"]["maximum"] == 500


async def test_path_ids_are_uuids(doc: dict[str, Any]) -> None:
    get_op = op(doc, "get_vehicle")
    (record_id,) = [p for p in get_op["parameters"] if p["name"] == "record_id"]
    assert record_id["in"] == "path" and record_id["required"] is True
    assert record_id["schema"]["format"] == "uuid"


async def test_schema_serves_an_html_docs_page(anon: httpx.AsyncClient) -> None:
    r = await anon.get("/schema")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text.lower()
    assert "<html" in page and "<title>crmkit</title>" in page
    assert "openapi.json" in page


# -- plugin routes ---------------------------------------------------------------------


class PingPlugin:
    """A plugin route that declares neither security nor error responses."""

    @hookimpl
    def route_handlers(self, runtime: Runtime) -> list[Any]:
        @get("/api/v1/ping", operation_id="ping", sync_to_thread=False, opt={"permission": None})
        def ping(echo: FromQuery[str] = "pong") -> dict[str, str]:
            return {"echo": echo}

        return [ping]


@pytest.fixture
async def ping_app(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime.create(
        make_settings(db_url), extra_plugins={"example": example_plugin, "ping": PingPlugin()}
    )
    await runtime.start()
    try:
        await Migrator(runtime).forwards()
        transport = httpx.ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await runtime.stop()


async def test_plugin_routes_are_documented_as_protected_problem_routes(
    ping_app: httpx.AsyncClient,
) -> None:
    doc = (await ping_app.get("/schema/openapi.json")).json()
    ping = op(doc, "ping")
    assert ping["security"] == SECURITY
    for status in ("400", "401"):
        assert list(ping["responses"][status]["content"]) == [PROBLEM]
    # and it is protected for real
    r = await ping_app.get("/api/v1/ping")
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
