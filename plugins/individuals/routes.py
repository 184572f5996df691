"""What is special to individuals: duplicates, merge and undo, vCards."""

from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from crmkit.core import (
    BadRequest,
    FieldError,
    access_of,
    actor_of,
    etag,
    problem_responses,
    request_data,
    runtime_of,
    validate,
)
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from .duplicates import Candidate, Pair, find_candidates, find_pairs
from .merge import MergeRequest, merge, undo
from .vcard import VCARD_MEDIA_TYPE, from_vcard, to_vcard

__all__ = ["handlers"]

BASE = "/api/v1/individuals"
SECURITY = [{"ApiKey": []}, {"Bearer": []}]
TAGS = ["Individual"]


class MergeResult(msgspec.Struct):
    id: UUID
    target: dict[str, Any]


class UndoResult(msgspec.Struct):
    id: UUID
    target: dict[str, Any]
    sources: list[UUID]


def _actor(request: Request) -> Any:
    return actor_of(request)


def _records(request: Request) -> Any:
    """The individuals as this request's reader may see and change them."""
    return runtime_of(request).records("individual", access_of(request))


def _read(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    return msgspec.to_builtins(_records(request).to_read(record))


def _attachment(filename: str) -> str:
    """A Content-Disposition that survives any name (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "") or "contact.vcf"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


async def _vcard_response(request: Request, record_id: UUID, version: str) -> Response[str]:
    record = await _records(request).get(record_id)
    name = "-".join(filter(None, [record["first_name"], record["last_name"]])) or "contact"
    return Response(
        to_vcard(record, version=version),
        media_type=VCARD_MEDIA_TYPE,
        headers={"Content-Disposition": _attachment(f"{name}.vcf")},
    )


def handlers() -> list[Any]:
    @get(
        f"{BASE}/{{record_id:uuid}}/duplicates",
        operation_id="list_individual_duplicates",
        opt={"permission": ("individual", "read")},
        responses=problem_responses(400, 401, 404),
        summary="Likely duplicates of an individual, scored, with reasons",
        tags=TAGS,
        security=SECURITY,
    )
    async def record_duplicates(
        request: Request,
        record_id: FromPath[UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
    ) -> list[Candidate]:
        runtime = runtime_of(request)
        await _records(request).get(record_id)  # 404 outside the reader's scope
        record = await runtime.records("individual").get(record_id)
        found = await find_candidates(runtime, record, exclude=record_id, limit=limit)
        hidden = access_of(request).hidden("individual")
        return [
            msgspec.structs.replace(
                c,
                first_name=None if "first_name" in hidden else c.first_name,
                last_name=None if "last_name" in hidden else c.last_name,
            )
            for c in found
        ]

    @get(
        f"{BASE}/duplicates",
        operation_id="list_duplicate_pairs",
        opt={"permission": ("individual", "read")},
        summary="Candidate duplicate pairs across all individuals",
        tags=TAGS,
        security=SECURITY,
    )
    async def duplicate_pairs(
        request: Request,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        min_score: Annotated[float, QueryParameter(ge=0, le=1)] = 0.5,
    ) -> list[Pair]:
        return await find_pairs(runtime_of(request), limit=limit, min_score=min_score)

    @post(
        f"{BASE}/merge",
        operation_id="merge_individuals",
        responses=problem_responses(400, 401, 404, 409, 422),
        summary="Merge duplicates into one individual (undoable)",
        status_code=200,
        tags=TAGS,
        security=SECURITY,
        opt={
            "body_type": MergeRequest,
            "permission": [("individual", "update"), ("individual", "delete")],
        },
    )
    async def merge_individuals(request: Request, data: JSONBody[MergeRequest]) -> MergeResult:
        runtime = runtime_of(request)
        result = await merge(runtime, data, actor=_actor(request))
        return MergeResult(id=result["id"], target=_read(request, result["target"]))

    @post(
        f"{BASE}/merges/{{merge_id:uuid}}/undo",
        operation_id="undo_individual_merge",
        opt={"permission": [("individual", "update"), ("individual", "delete")]},
        responses=problem_responses(400, 401, 404, 409),
        summary="Undo a merge: the sources and the target return as they were",
        status_code=200,
        tags=TAGS,
        security=SECURITY,
    )
    async def undo_merge(request: Request, merge_id: FromPath[UUID]) -> UndoResult:
        runtime = runtime_of(request)
        result = await undo(runtime, merge_id, actor=_actor(request))
        return UndoResult(
            id=result["id"], target=_read(request, result["target"]), sources=result["sources"]
        )

    @get(
        f"{BASE}/{{record_id:uuid}}/vcard",
        operation_id="get_individual_vcard",
        opt={"permission": ("individual", "read")},
        responses=problem_responses(400, 401, 404),
        summary="The individual as a vCard (4.0, or 3.0 with version=3.0)",
        tags=TAGS,
        security=SECURITY,
        media_type=VCARD_MEDIA_TYPE,
    )
    async def get_vcard(
        request: Request,
        record_id: FromPath[UUID],
        version: Annotated[str, QueryParameter(pattern=r"^(3\.0|4\.0)$")] = "4.0",
    ) -> Response[str]:
        return await _vcard_response(request, record_id, version)

    @get(
        f"{BASE}/{{record_id:uuid}}/vcf",
        operation_id="get_individual_vcf",
        opt={"permission": ("individual", "read")},
        include_in_schema=False,  # reached as /individuals/{id}.vcf (core's suffix rule)
        media_type=VCARD_MEDIA_TYPE,
    )
    async def get_vcf(
        request: Request,
        record_id: FromPath[UUID],
        version: Annotated[str, QueryParameter(pattern=r"^(3\.0|4\.0)$")] = "4.0",
    ) -> Response[str]:
        return await _vcard_response(request, record_id, version)

    @post(
        f"{BASE}/vcard",
        operation_id="import_individual_vcard",
        opt={"permission": ("individual", "create")},
        responses=problem_responses(400, 401, 409, 422),
        summary="Create an individual from one vCard (3.0 or 4.0)",
        status_code=HTTP_201_CREATED,
        tags=TAGS,
        security=SECURITY,
    )
    async def post_vcard(request: Request) -> Response[dict[str, Any]]:
        runtime = runtime_of(request)
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(
                "a vCard must be UTF-8", errors=[FieldError("body", "not UTF-8")]
            ) from None
        values = from_vcard(text)
        checked = validate(runtime.records("individual").entity.create_type, values)
        record = await _records(request).create(
            msgspec.structs.asdict(checked), actor=_actor(request), data=request_data(request)
        )
        return Response(
            _read(request, record),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"{BASE}/{record['id']}", "ETag": etag(record["version"])},
        )

    return [
        record_duplicates,
        duplicate_pairs,
        merge_individuals,
        undo_merge,
        get_vcard,
        get_vcf,
        post_vcard,
    ]
