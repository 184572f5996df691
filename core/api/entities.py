"""The standard surface of API.md, built for each registered entity.

The handlers are made per entity so their annotations carry the entity's real types,
and the OpenAPI document shows real request and response schemas.
"""

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED

from ..entity import EntityType
from ..errors import BadRequest, FieldError
from ..query.params import parse_list_params
from .auth import access_of, actor_of, runtime_of
from .problems import problem_responses

__all__ = ["entity_router", "etag", "parse_if_match", "request_data"]


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version named by ``If-Match`` (``None`` when absent or ``*``)."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        raise BadRequest(
            "If-Match must be an ETag from this API", errors=[FieldError("If-Match", "not an ETag")]
        ) from None


def entity_router(
    entity: EntityType, *, default_limit: int, max_limit: int, bulk_actions: Any = ()
) -> Router:
    """A Litestar router with the whole record and list surface of one entity."""
    Create = entity.create_type
    Patch = entity.patch_type
    Read = entity.read_type
    PageT = entity.page_type
    name, plural = entity.name, entity.plural
    tags = [entity.label]
    IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]
    IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", required=False)]

    def read_response(request: Request, record: dict[str, Any], status: int = 200) -> Response[Any]:
        records = runtime_of(request).records(entity, access_of(request))
        return Response(
            records.to_read(record),
            status_code=status,
            headers={"ETag": etag(record["version"])},
        )

    @get(
        "/",
        operation_id=f"list_{plural}",
        opt={"permission": (name, "read")},
        summary=f"List {plural}",
        description=(
            "Filters: `field=value` or `field__op=value` (ops: eq, ne, lt, lte, gt, gte, in, nin, "
            "contains, icontains, startswith, isnull), `custom.<key>`, `tag`. Sort with "
            "`sort=-a,b`. Keyset paging with `cursor`; `count=true` adds `total`."
        ),
        responses=problem_responses(400, 401),
    )
    async def list_records(
        request: Request,
        limit: Annotated[int, QueryParameter(ge=1, le=max_limit)] = default_limit,
        cursor: Annotated[str | None, QueryParameter()] = None,
        sort: Annotated[str | None, QueryParameter()] = None,
        count: Annotated[bool, QueryParameter()] = False,
        q: Annotated[str | None, QueryParameter(description="search query")] = None,
        include_deleted: Annotated[bool, QueryParameter()] = False,
    ) -> PageT:  # type: ignore[valid-type]
        runtime = runtime_of(request)
        params = parse_list_params(
            request.query_params.multi_items(), default_limit=default_limit, max_limit=max_limit
        )
        records = runtime.records(entity, access_of(request))
        page = await records.list(params)
        return PageT(
            data=[records.to_read(r) for r in page.data],
            next_cursor=page.next_cursor,
            total=page.total,
        )

    @post(
        "/",
        operation_id=f"create_{name}",
        summary=f"Create a {name}",
        status_code=HTTP_201_CREATED,
        opt={"body_type": Create, "permission": (name, "create")},
        responses=problem_responses(400, 401, 422),
    )
    async def create_record(request: Request, data: JSONBody[Create]) -> Response[Read]:  # type: ignore[valid-type]
        runtime = runtime_of(request)
        record = await runtime.records(entity, access_of(request)).create(
            msgspec.structs.asdict(data), actor=actor_of(request), data=request_data(request)
        )
        response = read_response(request, record, HTTP_201_CREATED)
        response.headers["Location"] = f"/api/v1/{plural}/{record['id']}"
        return response

    @get(
        "/{record_id:uuid}",
        operation_id=f"get_{name}",
        opt={"permission": (name, "read")},
        summary=f"Read a {name}",
        responses={**problem_responses(400, 401, 404), 304: _not_modified()},
    )
    async def get_record(
        request: Request,
        record_id: FromPath[UUID],
        if_none_match: IfNoneMatch = None,
        include_deleted: Annotated[bool, QueryParameter()] = False,
    ) -> Response[Read]:  # type: ignore[valid-type]
        record = (
            await runtime_of(request)
            .records(entity, access_of(request))
            .get(record_id, include_deleted=include_deleted)
        )
        tags = [t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")]
        if "*" in tags or etag(record["version"]) in tags:  # "*": any current version
            return Response(
                None, status_code=HTTP_304_NOT_MODIFIED, headers={"ETag": etag(record["version"])}
            )
        return read_response(request, record)

    @patch(
        "/{record_id:uuid}",
        operation_id=f"update_{name}",
        summary=f"Update a {name}",
        description="Partial update. Send `If-Match` with the ETag you read; 412 if it is stale.",
        opt={"body_type": Patch, "permission": (name, "update")},
        responses=problem_responses(400, 401, 404, 412, 422),
    )
    async def update_record(
        request: Request,
        record_id: FromPath[UUID],
        data: JSONBody[Patch],  # type: ignore[valid-type]
        if_match: IfMatch = None,
    ) -> Response[Read]:  # type: ignore[valid-type]
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        record = (
            await runtime_of(request)
            .records(entity, access_of(request))
            .update(
                record_id,
                changes,
                actor=actor_of(request),
                if_version=parse_if_match(if_match),
                data=request_data(request),
            )
        )
        return read_response(request, record)

    @delete(
        "/{record_id:uuid}",
        operation_id=f"delete_{name}",
        opt={"permission": (name, "delete")},
        summary=f"Delete a {name}",
        description="Soft delete (restore with POST .../restore). `hard=true` removes it for good (admins only).",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(400, 401, 403, 404, 412),
    )
    async def delete_record(
        request: Request,
        record_id: FromPath[UUID],
        hard: Annotated[bool, QueryParameter()] = False,
        if_match: IfMatch = None,
    ) -> None:
        actor = actor_of(request)
        if hard:
            access_of(request).require_ability("hard_delete")
        await (
            runtime_of(request)
            .records(entity, access_of(request))
            .delete(record_id, actor=actor, hard=hard, if_version=parse_if_match(if_match))
        )

    @post(
        "/{record_id:uuid}/restore",
        operation_id=f"restore_{name}",
        opt={"permission": (name, "delete")},
        summary=f"Restore a deleted {name}",
        status_code=200,
        responses=problem_responses(400, 401, 404),
    )
    async def restore_record(request: Request, record_id: FromPath[UUID]) -> Response[Read]:  # type: ignore[valid-type]
        record = (
            await runtime_of(request)
            .records(entity, access_of(request))
            .restore(record_id, actor=actor_of(request))
        )
        return read_response(request, record)

    @post(
        "/{record_id:uuid}/duplicate",
        operation_id=f"duplicate_{name}",
        summary=f"Clone a {name} into a new record",
        description="Copies every writable field; the body (optional) overrides fields of the copy.",
        status_code=HTTP_201_CREATED,
        opt={"body_type": Patch, "permission": (name, "create")},
        responses=problem_responses(400, 401, 404, 422),
    )
    async def duplicate_record(
        request: Request,
        record_id: FromPath[UUID],
        data: JSONBody[Patch | None] = None,  # type: ignore[valid-type]
    ) -> Response[Read]:  # type: ignore[valid-type]
        overrides = {}
        if data is not None:
            overrides = {
                k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
            }
        record = (
            await runtime_of(request)
            .records(entity, access_of(request))
            .clone(record_id, overrides, actor=actor_of(request), data=request_data(request))
        )
        response = read_response(request, record, HTTP_201_CREATED)
        response.headers["Location"] = f"/api/v1/{plural}/{record['id']}"
        return response

    from .bulk import bulk_handlers
    from .export import export_handlers
    from .imports import import_handlers
    from .tabs import tab_handlers

    return Router(
        path=f"/api/v1/{plural}",
        route_handlers=[
            list_records,
            create_record,
            get_record,
            update_record,
            delete_record,
            restore_record,
            duplicate_record,
            *tab_handlers(entity),
            *bulk_handlers(entity, bulk_actions),
            *export_handlers(entity),
            *import_handlers(entity),
        ],
        tags=tags,
        security=[{"ApiKey": []}, {"Bearer": []}],
    )


def request_data(request: Request) -> dict[str, Any]:
    """Request facts plugins may act on (e.g. ``X-Skip-Duplicate-Check``)."""
    data: dict[str, Any] = {}
    skip = request.headers.get("x-skip-duplicate-check", "") or request.query_params.get(
        "allow_duplicates", ""
    )
    if skip.lower() in ("true", "1", "yes"):
        data["skip_duplicate_check"] = True
    return data


def _not_modified() -> Any:
    from litestar.openapi.datastructures import ResponseSpec

    return ResponseSpec(
        data_container=None, description="Not modified (ETag matches)", generate_examples=False
    )
