"""Links between individuals and organisations, and an organisation's people."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import msgspec
from crmkit.core import actor_of, problem_responses, runtime_of
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from .extension import people_page
from .links import create_link, delete_link, get_link, person_links, update_link
from .schemas import LinkCreate, LinkPatch

__all__ = ["handlers"]

LINKS = "/api/v1/individuals/{record_id:uuid}/organizations"
PEOPLE = "/api/v1/organizations/{record_id:uuid}/people"
SECURITY = [{"ApiKey": []}, {"Bearer": []}]


class OrganizationRef(msgspec.Struct):
    id: UUID
    name: str | None


class Link(msgspec.Struct):
    """A person's link to an organisation: a role over a period."""

    id: UUID
    individual_id: UUID
    organization_id: UUID
    organization: OrganizationRef
    role: str | None
    primary: bool
    start_date: dt.date | None
    end_date: dt.date | None
    notes: str | None
    current: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class LinkList(msgspec.Struct):
    data: list[Link]


class Person(msgspec.Struct):
    id: UUID
    first_name: str
    last_name: str
    primary_email: str | None
    job_title: str | None


class Member(msgspec.Struct):
    """One person of an organisation, with the link's role and period."""

    id: UUID
    individual_id: UUID
    organization_id: UUID
    role: str | None
    primary: bool
    start_date: dt.date | None
    end_date: dt.date | None
    notes: str | None
    current: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    individual: Person


class PeoplePage(msgspec.Struct):
    data: list[Member]
    next_cursor: str | None


_WHY = {
    400: "Bad request (a query parameter or cursor)",
    404: "No such individual, organisation or link",
    409: "An identical current link (same organisation and role) exists",
    422: "Validation failed (every field problem is listed)",
}


def _responses(*codes: int) -> dict[int, Any]:
    return problem_responses(*codes, descriptions=_WHY)


def _link(value: dict[str, Any]) -> Link:
    return msgspec.convert(value, Link, from_attributes=True)


def handlers() -> list[Any]:
    @get(
        LINKS,
        operation_id="list_individual_organizations",
        opt={"permission": [("individual", "read"), ("organization", "read")]},
        summary="An individual's organisations (current links; include_ended=true adds history)",
        tags=["Individual"],
        security=SECURITY,
        responses=_responses(400, 401, 404),
    )
    async def list_links(
        request: Request,
        record_id: FromPath[UUID],
        include_ended: Annotated[bool, QueryParameter()] = False,
    ) -> LinkList:
        links = await person_links(runtime_of(request), record_id, include_ended=include_ended)
        return LinkList(data=[_link(x) for x in links])

    @post(
        LINKS,
        operation_id="link_individual_organization",
        summary="Link an individual to an organisation (with a role and a period)",
        description=(
            "The person's first current link becomes primary; `primary: true` moves it here."
        ),
        status_code=HTTP_201_CREATED,
        tags=["Individual"],
        security=SECURITY,
        opt={
            "body_type": LinkCreate,
            "permission": [("individual", "update"), ("organization", "read")],
        },
        responses=_responses(400, 401, 404, 409, 422),
    )
    async def create(
        request: Request, record_id: FromPath[UUID], data: JSONBody[LinkCreate]
    ) -> Response[Link]:
        link = await create_link(
            runtime_of(request), record_id, msgspec.structs.asdict(data), actor=actor_of(request)
        )
        return Response(
            _link(link),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/individuals/{record_id}/organizations/{link['id']}"},
        )

    @get(
        f"{LINKS}/{{link_id:uuid}}",
        operation_id="get_individual_organization_link",
        opt={"permission": [("individual", "read"), ("organization", "read")]},
        summary="One link of an individual to an organisation",
        tags=["Individual"],
        security=SECURITY,
        responses=_responses(400, 401, 404),
    )
    async def read(request: Request, record_id: FromPath[UUID], link_id: FromPath[UUID]) -> Link:
        return _link(await get_link(runtime_of(request), record_id, link_id))

    @patch(
        f"{LINKS}/{{link_id:uuid}}",
        operation_id="update_individual_organization_link",
        summary="Change a link: role, primary, period, notes (end_date ends it, keeping history)",
        tags=["Individual"],
        security=SECURITY,
        opt={
            "body_type": LinkPatch,
            "permission": [("individual", "update"), ("organization", "read")],
        },
        responses=_responses(400, 401, 404, 409, 422),
    )
    async def update(
        request: Request,
        record_id: FromPath[UUID],
        link_id: FromPath[UUID],
        data: JSONBody[LinkPatch],
    ) -> Link:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        link = await update_link(
            runtime_of(request), record_id, link_id, changes, actor=actor_of(request)
        )
        return _link(link)

    @delete(
        f"{LINKS}/{{link_id:uuid}}",
        operation_id="unlink_individual_organization",
        opt={"permission": [("individual", "update"), ("organization", "read")]},
        summary="Remove a link (to end one and keep it as history, PATCH its end_date)",
        status_code=HTTP_204_NO_CONTENT,
        tags=["Individual"],
        security=SECURITY,
        responses=_responses(400, 401, 404),
    )
    async def remove(request: Request, record_id: FromPath[UUID], link_id: FromPath[UUID]) -> None:
        await delete_link(runtime_of(request), record_id, link_id, actor=actor_of(request))

    @get(
        PEOPLE,
        operation_id="list_organization_people",
        opt={"permission": [("individual", "read"), ("organization", "read")]},
        summary="The people of an organisation with their roles (by name, keyset-paged)",
        tags=["Organization"],
        security=SECURITY,
        responses=_responses(400, 401, 404),
    )
    async def people(
        request: Request,
        record_id: FromPath[UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter()] = None,
        include_ended: Annotated[bool, QueryParameter()] = False,
    ) -> PeoplePage:
        runtime = runtime_of(request)
        await runtime.records("organization").fetch_row(record_id)
        items, next_cursor = await people_page(
            runtime, record_id, limit=limit, cursor=cursor, include_ended=include_ended
        )
        return PeoplePage(
            data=[msgspec.convert(x, Member, from_attributes=True) for x in items],
            next_cursor=next_cursor,
        )

    return [list_links, create, read, update, remove, people]
