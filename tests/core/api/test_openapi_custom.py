"""``/schema/openapi.json`` types each entity's ``custom`` with its live custom fields.

The definitions are data: the document of the next request shows a change, without a
restart. Checked against the real API: what the document accepts the API accepts, what
it refuses (an unknown key) the API answers with a 422, and what the API returns fits it.
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import msgspec
import pytest
import schemathesis
from crmkit.core import FieldType, hookimpl
from litestar import Litestar
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from tests import example_plugin
from tests.core.custom_fields import rating_plugin

FIELDS = "/api/v1/custom-fields"
#: entity -> its Create, Patch and Read components
COMPONENTS = {
    "individual": ("IndividualCreate", "IndividualPatch", "Individual"),
    "organization": ("OrganizationCreate", "OrganizationPatch", "Organization"),
    "vehicle": ("VehicleCreate", "VehiclePatch", "Vehicle"),
}
NOTES = {"title", "description", "x-crmkit-type", "default"}


class Point(msgspec.Struct, forbid_unknown_fields=True):
    lat: float
    lon: float


class PointType(FieldType):
    """A type with a struct value and the default ``openapi_schema`` (``$defs`` and ``$ref``)."""

    name = "point"
    label = "Map point"
    storage = "text"
    value_type = Point

    def to_storage(self, value: Any) -> Any:
        return msgspec.to_builtins(value)


class BrokenType(FieldType):
    name = "broken"
    label = "Broken"

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        raise RuntimeError("a bug in a third-party plugin")


class ExtraTypes:
    @hookimpl
    def register_field_types(self, register: Any) -> None:
        register(PointType())
        register(BrokenType())


@pytest.fixture
def plugins() -> dict[str, Any]:
    return {"example": example_plugin, "rating": rating_plugin, "extra": ExtraTypes()}


async def fetch_doc(app: Litestar) -> dict[str, Any]:
    """The document, fetched without an API key (it is public)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        r = await anon.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    return r.json()


def custom_of(doc: dict[str, Any], component: str) -> dict[str, Any]:
    return doc["components"]["schemas"][component]["properties"]["custom"]


def value_of(prop: dict[str, Any]) -> dict[str, Any]:
    """The value schema of a property: without its notes, and without the null branch."""
    branches = prop.get("oneOf") or prop.get("anyOf")
    if branches is not None:
        assert branches[1] == {"type": "null"}, prop
        return branches[0]
    return {k: v for k, v in prop.items() if k not in NOTES}


def nullable(prop: dict[str, Any]) -> bool:
    return any({"type": "null"} in prop.get(k, []) for k in ("oneOf", "anyOf"))


async def define(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post(FIELDS, json={"label": body["key"].capitalize(), **body})
    assert r.status_code == 201, r.text
    return r.json()


async def define_all(client: httpx.AsyncClient) -> None:
    await define(
        client, entity="individual", key="budget", label="Budget (EUR)", type="number",
        validation={"min": 0, "max": 1_000_000}, required=True,
    )  # fmt: skip
    await define(
        client, entity="individual", key="level", type="select", required=True, default="silver",
        options=[{"value": "gold", "label": "Gold tier"}, "silver"],
    )  # fmt: skip
    await define(
        client, entity="individual", key="topics", type="multi_select",
        options=["golf", "sailing"], validation={"max_selections": 2},
    )  # fmt: skip
    old = await define(client, entity="individual", key="legacy", type="text")
    assert (await client.delete(f"{FIELDS}/{old['id']}")).status_code in (200, 204)
    await define(client, entity="organization", key="revenue", type="currency",
                 validation={"min": 0})  # fmt: skip
    await define(client, entity="organization", key="stars", type="rating")
    await define(client, entity="vehicle", key="condition", type="rating", label="Condition")


# -- the document --------------------------------------------------------------------


async def test_each_entity_shows_exactly_its_live_fields(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    await define_all(client)
    doc = await fetch_doc(app)
    live = {
        "individual": ["budget", "level", "topics"],
        "organization": ["revenue", "stars"],
        "vehicle": ["condition"],
    }
    for entity, names in COMPONENTS.items():
        for name in names:
            custom = custom_of(doc, name)
            assert custom["type"] == "object", name
            assert list(custom["properties"]) == live[entity], name  # creation order
            if name.endswith(("Create", "Patch")):
                assert custom["additionalProperties"] is False, name
            else:  # reads also carry the kept values of archived fields
                assert custom.get("additionalProperties", True) is not False, name

    create, patch, read = (custom_of(doc, n) for n in COMPONENTS["individual"])
    budget = create["properties"]["budget"]
    assert budget == {
        "type": "number",
        "minimum": 0,
        "maximum": 1_000_000,
        "title": "Budget (EUR)",
        "description": budget["description"],
        "x-crmkit-type": "number",
    }
    assert budget["description"]
    level = create["properties"]["level"]
    assert value_of(level) == {"type": "string", "enum": ["gold", "silver"]}
    assert (level["title"], level["x-crmkit-type"], level["default"]) == (
        "Level",
        "select",
        "silver",
    )
    assert "`gold` (Gold tier)" in level["description"]
    assert value_of(create["properties"]["topics"]) == {
        "type": "array",
        "items": {"type": "string", "enum": ["golf", "sailing"]},
        "uniqueItems": True,
        "maxItems": 2,
    }
    # create: required (and without a default) is required, so `custom` itself is too
    assert create["required"] == ["budget"]
    assert "custom" in doc["components"]["schemas"]["IndividualCreate"]["required"]
    assert not nullable(budget) and nullable(level) and nullable(create["properties"]["topics"])
    # patch: nothing required; null clears an optional value
    assert "required" not in patch
    assert not nullable(patch["properties"]["budget"]) and nullable(patch["properties"]["topics"])
    # read: every value may be missing or null
    assert all(nullable(p) for p in read["properties"].values())
    assert value_of(read["properties"]["budget"]) == {
        "type": "number",
        "minimum": 0,
        "maximum": 1_000_000,
    }

    revenue = custom_of(doc, "OrganizationCreate")["properties"]["revenue"]
    assert value_of(revenue) == {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "minimum": 0},  # the rule applies to the amount
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        },
        "required": ["amount", "code"],
        "additionalProperties": False,
    }
    assert "required" not in custom_of(doc, "OrganizationCreate")
    assert "custom" not in doc["components"]["schemas"]["OrganizationCreate"]["required"]
    for component, key in (("OrganizationCreate", "stars"), ("Vehicle", "condition")):
        rating = custom_of(doc, component)["properties"][key]  # a third-party type
        assert value_of(rating) == {"type": "integer", "minimum": 1, "maximum": 5}
        assert rating["x-crmkit-type"] == "rating"
    assert custom_of(doc, "Vehicle")["properties"]["condition"]["title"] == "Condition"


async def test_a_change_shows_in_the_next_fetch(client: httpx.AsyncClient, app: Litestar) -> None:
    before = await fetch_doc(app)
    assert custom_of(before, "VehicleCreate")["properties"] == {}
    assert before == await fetch_doc(app)

    made = await define(client, entity="vehicle", key="colour", type="select", options=["red"])
    doc = await fetch_doc(app)
    colour = custom_of(doc, "VehicleCreate")["properties"]["colour"]
    assert value_of(colour) == {"type": "string", "enum": ["red"]}
    assert custom_of(doc, "IndividualCreate")["properties"] == {}

    r = await client.patch(
        f"{FIELDS}/{made['id']}", json={"label": "Paint", "options": ["red", "blue"]}
    )
    assert r.status_code == 200, r.text
    colour = custom_of(await fetch_doc(app), "VehicleCreate")["properties"]["colour"]
    assert colour["title"] == "Paint"
    assert value_of(colour)["enum"] == ["red", "blue"]

    assert (await client.delete(f"{FIELDS}/{made['id']}")).status_code in (200, 204)
    assert custom_of(await fetch_doc(app), "VehicleCreate")["properties"] == {}
    r = await client.post(f"{FIELDS}/{made['id']}/restore")
    assert r.status_code == 200, r.text
    assert "colour" in custom_of(await fetch_doc(app), "Vehicle")["properties"]


def openapi_problems(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """Where ``doc`` breaks the OpenAPI 3.1 meta-schema (Schemathesis' own validator)."""
    return {
        ("/".join(map(str, e.instance_path)), e.message)
        for e in OPENAPI_31_VALIDATOR.iter_errors(doc)
    }


async def test_the_document_is_valid_openapi(client: httpx.AsyncClient, app: Litestar) -> None:
    await define_all(client)
    await define(client, entity="vehicle", key="spot", type="point")
    doc = await fetch_doc(app)
    # nothing wrong that Litestar's own document does not have (a plugin's route is not ours)
    assert openapi_problems(doc) <= openapi_problems(app.openapi_schema.to_schema())
    operations = list(schemathesis.openapi.from_dict(doc).get_all_operations())
    assert operations and all(o.ok() for o in operations)
    # the OpenAPI meta-schema does not look into schemas: check each one as JSON Schema
    for names in COMPONENTS.values():
        for name in names:
            jsonschema_rs.meta.validate(custom_of(doc, name))  # JSON Schema 2020-12
    broken = {**custom_of(doc, "VehicleCreate"), "properties": {"x": {"type": "strnig"}}}
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.meta.validate(broken)
    # a struct value's `$defs` are inlined: `#/$defs/...` would point at the document root
    spot = custom_of(doc, "VehicleCreate")["properties"]["spot"]
    assert "$defs" not in str(spot) and "$ref" not in str(spot)
    assert value_of(spot) == {
        "type": "object",
        "title": "Point",
        "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
        "required": ["lat", "lon"],
        "additionalProperties": False,
    }


async def test_a_broken_field_type_does_not_break_the_document(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    await define(client, entity="vehicle", key="odd", type="broken", label="Odd")
    await define(client, entity="vehicle", key="fine", type="rating")
    props = custom_of(await fetch_doc(app), "VehicleCreate")["properties"]
    assert value_of(props["odd"]) == {} and props["odd"]["title"] == "Odd"
    assert value_of(props["fine"])["type"] == "integer"


# -- the document against the API -----------------------------------------------------


async def test_the_api_keeps_to_the_document(client: httpx.AsyncClient, app: Litestar) -> None:
    await define_all(client)
    doc = await fetch_doc(app)
    create = jsonschema_rs.validator_for(custom_of(doc, "IndividualCreate"))
    read = jsonschema_rs.validator_for(custom_of(doc, "Individual"))
    patch = jsonschema_rs.validator_for(custom_of(doc, "IndividualPatch"))

    good = {"budget": 2500.5, "topics": ["golf"]}
    assert create.is_valid(good)
    r = await client.post(
        "/api/v1/individuals", json={"first_name": "Ann", "last_name": "Lee", "custom": good}
    )
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["custom"] == {"budget": 2500.5, "level": "silver", "topics": ["golf"]}
    read.validate(record["custom"])

    for bad, field in (
        ({**good, "nickname": "x"}, "custom.nickname"),  # unknown key
        ({**good, "legacy": "x"}, "custom.legacy"),  # archived
        ({**good, "budget": -1}, "custom.budget"),  # below the minimum
        ({**good, "level": "bronze"}, "custom.level"),  # not an option
        ({"topics": ["golf"]}, "custom.budget"),  # required
    ):
        assert not create.is_valid(bad), bad
        r = await client.post(
            "/api/v1/individuals", json={"first_name": "Bo", "last_name": "Li", "custom": bad}
        )
        assert r.status_code == 422, (bad, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (bad, r.text)

    change = {"budget": 10, "level": "gold", "topics": None}
    assert patch.is_valid(change)
    r = await client.patch(f"/api/v1/individuals/{record['id']}", json={"custom": change})
    assert r.status_code == 200, r.text
    assert r.json()["custom"] == {"budget": 10, "level": "gold"}
    read.validate(r.json()["custom"])
    r = await client.post(
        "/api/v1/organizations",
        json={"name": "Acme", "custom": {"revenue": {"amount": 12.5, "code": "EUR"}, "stars": 4}},
    )
    assert r.status_code == 201, r.text
    jsonschema_rs.validator_for(custom_of(doc, "Organization")).validate(r.json()["custom"])
