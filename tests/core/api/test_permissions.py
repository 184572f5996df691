"""Roles by routes, found from the app itself: every /api/ route declares what it needs and
answers 403 (problem+json) exactly when the key's role lacks it."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import Access, Forbidden, Runtime, check_permission
from crmkit.core.access import BUILTIN_ROLES
from crmkit.core.apikeys import create_key
from litestar import Litestar
from litestar.routes import HTTPRoute

pytestmark = pytest.mark.usefixtures("runtime")

ROLES = sorted(BUILTIN_ROLES)


def _routes(app: Litestar) -> list[tuple[str, str, Any]]:
    out = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            continue
        for handler in route.route_handlers:
            if handler.http_methods == {"OPTIONS"}:
                continue
            for method in sorted(handler.http_methods):
                out.append((method, route.path, handler.opt["permission"]))
    return out


async def _records(client: httpx.AsyncClient) -> dict[str, str]:
    """One record of each entity (created by an admin), by plural."""
    bodies = {
        "individuals": {"first_name": "Kari", "last_name": "Nordmann"},
        "organizations": {"name": "Acme AS"},
        "vehicles": {"make": "Volvo"},
    }
    ids = {}
    for plural, body in bodies.items():
        r = await client.post(f"/api/v1/{plural}", json=body)
        if r.status_code == 201:
            ids[plural] = r.json()["id"]
    return ids


class _Bare:
    """A connection without query parameters or headers, for permissions that read them."""

    query_params: dict[str, str] = {}
    headers: dict[str, str] = {}


def _fill(path: str, ids: dict[str, str]) -> str:
    plural = path.split("/")[3]

    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name == "record_id":
            return ids.get(plural, str(uuid.uuid4()))
        if kind == "uuid":
            return str(uuid.uuid4())
        if name == "entity":
            return "individual"
        if name == "key":
            return "details"
        return "x"

    return re.sub(r"\{(\w+):(\w+)\}", value, path)


async def test_every_route_answers_403_exactly_when_the_role_lacks_its_permission(
    runtime: Runtime, app: Litestar, client: httpx.AsyncClient
) -> None:
    ids = await _records(client)
    keys = {}
    for role in ROLES:
        _, keys[role] = await create_key(runtime, name=f"matrix {role}", role=role)
    routes = _routes(app)
    assert len(routes) > 40  # the whole app, not a hand list
    wrong = []
    checked = {True: 0, False: 0}
    # Deletes last, so the records stay for the other routes.
    for method, path, permission in sorted(routes, key=lambda r: (r[0] == "DELETE", r[1])):
        url = _fill(path, ids)
        for role in ROLES:
            access = Access(actor=Access.full().actor, role=BUILTIN_ROLES[role])
            if callable(permission):  # depends on the request: this one has no parameters
                permission = permission(_Bare())
            try:
                check_permission(access, permission)
                allowed = True
            except Forbidden:
                allowed = False
            checked[allowed] += 1
            headers = {"Authorization": f"Bearer {keys[role]}"}
            body = {} if method in ("POST", "PATCH", "PUT") else None
            r = await client.request(method, url, json=body, headers=headers)
            # (a handler's own 403, such as "only its author may edit", names no grant)
            if allowed and r.status_code == 403 and "required" in r.json():
                wrong.append(f"{role} {method} {path}: 403 but allowed ({r.text[:120]})")
            if allowed and r.status_code >= 500:
                wrong.append(f"{role} {method} {path}: {r.status_code}")
            if not allowed:
                if r.status_code != 403:
                    wrong.append(f"{role} {method} {path}: {r.status_code}, want 403")
                elif r.headers["content-type"] != "application/problem+json":
                    wrong.append(f"{role} {method} {path}: 403 is not problem+json")
    assert not wrong, "\n".join(wrong)
    assert checked[True] and checked[False]


async def test_routes_without_a_declared_permission_refuse_to_start(runtime: Runtime) -> None:
    from crmkit.core import PluginError
    from crmkit.core.api.app import create_app
    from litestar import get

    @get("/api/v1/open-door", sync_to_thread=False)
    def open_door() -> str:
        return "oops"

    class Leaky:
        from crmkit.core import hookimpl

        @hookimpl
        def route_handlers(self, runtime: Runtime) -> list[Any]:
            return [open_door]

    runtime.plugins.pm.register(Leaky(), name="leaky")
    try:
        with pytest.raises(PluginError, match="GET /api/v1/open-door"):
            create_app(runtime=runtime)
    finally:
        runtime.plugins.pm.unregister(name="leaky")
