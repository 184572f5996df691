"""Imports over HTTP: ``POST /api/v1/<plural>/import`` and ``/api/v1/imports`` (the jobs).

The file is the request body (``Content-Type: text/csv``, ``application/x-ndjson`` or
``text/vcard``), or the ``file`` part of a ``multipart/form-data`` body (with an
optional ``mapping`` part). The body is streamed to a spooled temporary file (memory
up to 1 MiB, disk beyond) and counted against ``max_upload_size``: a 413 beyond it.
Then the import reads that file as a stream (``crmkit.core.transfer.imports``).

Importing needs ``(entity, "import")`` and ``(entity, "create")``, plus ``update`` with
``on_duplicate=update``. Jobs are listed for any key, filtered to the entities the
key may import (``crmkit.core.transfer.jobs``); reverting needs ``import`` and the
``delete``/``update`` it performs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, QueryParameter
from multipart import MultipartSegment, ParserError, PushMultipartParser

from ..entity import EntityType
from ..errors import BadRequest, CrmError, FieldError, PayloadTooLarge
from ..transfer.imports import Importer, ImportOptions
from ..transfer.jobs import ImportJobInfo, ImportPage, ImportReport, get_job, list_jobs
from ..transfer.revert import RevertReport, revert_import
from ..transfer.sources import parse_mapping
from .auth import access_of, actor_of, runtime_of
from .problems import problem_responses

__all__ = ["UnsupportedMediaType", "import_handlers", "imports_router", "read_upload"]

#: Media types (and file extensions) of each format.
MEDIA_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/comma-separated-values": "csv",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
    "text/vcard": "vcf",
    "text/x-vcard": "vcf",
    "text/directory": "vcf",
}
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".vcf": "vcf", ".vcard": "vcf"}
SPOOL = 1024 * 1024
#: Largest form field besides the file (``mapping``).
MAX_FIELD = 1024 * 1024
FORM_FIELDS = ("mapping", "preset", "format")


class UnsupportedMediaType(CrmError):
    """A body whose format cannot be told from its media type, name or ``format``."""

    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


@dataclass
class Upload:
    """The uploaded file (spooled), what the request says it is, and form fields."""

    file: Any
    media_type: str | None = None
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def format(self) -> str | None:
        """The format its media type or file name names, if any."""
        found = MEDIA_TYPES.get((self.media_type or "").lower())
        if found is None and self.filename:
            found = EXTENSIONS.get(PurePosixPath(self.filename).suffix.lower())
        return found

    def close(self) -> None:
        self.file.close()


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the upload is larger than {limit} bytes (setting max_upload_size)",
        errors=[FieldError("body", f"at most {limit} bytes")],
    )


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    main, _, rest = value.partition(";")
    params = {}
    for part in rest.split(";"):
        key, sep, text = part.strip().partition("=")
        if sep:
            params[key.strip().lower()] = text.strip().strip('"')
    return main.strip().lower(), params


async def read_upload(request: Request, limit: int) -> Upload:
    """Stream the body into a spooled file (a 413 past ``limit`` bytes); a multipart body
    gives its ``file`` part as the file and its small parts as fields."""
    if (request.content_length or 0) > limit:
        raise _too_large(limit)
    media_type, params = _content_type(request.headers.get("content-type", ""))
    upload = Upload(file=tempfile.SpooledTemporaryFile(max_size=SPOOL), media_type=media_type)
    try:
        if media_type == "multipart/form-data":
            await _read_multipart(request, params.get("boundary"), upload, limit)
        else:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                upload.file.write(chunk)
        upload.file.seek(0)
    except BaseException:
        upload.close()
        raise
    return upload


async def _read_multipart(
    request: Request, boundary: str | None, upload: Upload, limit: int
) -> None:
    if not boundary:
        raise BadRequest(
            "multipart body without a boundary", errors=[FieldError("body", "no boundary")]
        )
    parser = PushMultipartParser(boundary)
    segment: MultipartSegment | None = None
    buffer: bytearray | None = None
    found = False
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            if parser.closed:
                continue
            for part in parser.parse(chunk):
                if isinstance(part, MultipartSegment):
                    segment = part
                    is_file = not found and (part.name == "file" or bool(part.filename))
                    buffer = None if is_file else bytearray()
                    if is_file:
                        found = True
                        upload.media_type = part.content_type
                        upload.filename = part.filename
                elif part is None:  # the end of a part
                    if segment is not None and buffer is not None and segment.name in FORM_FIELDS:
                        upload.fields[segment.name] = buffer.decode(
                            segment.charset or "utf-8", errors="replace"
                        )
                    segment, buffer = None, None
                elif buffer is None:
                    upload.file.write(part)
                else:
                    buffer.extend(part)
                    if len(buffer) > MAX_FIELD:
                        raise BadRequest(
                            "a form field is too large",
                            errors=[FieldError(str(segment and segment.name), "too large")],
                        )
        if not parser.closed:
            list(parser.parse(b""))
    except ParserError as exc:
        raise BadRequest(
            f"malformed multipart body: {exc}", errors=[FieldError("body", "malformed multipart")]
        ) from None
    if not found:
        raise BadRequest(
            "the multipart body has no file part", errors=[FieldError("file", "required")]
        )


def _operation() -> type[Operation]:
    """The import's OpenAPI operation: its body is a file in one of the formats."""

    @dataclass
    class ImportOperation(Operation):
        def __post_init__(self) -> None:
            text = Schema(type=OpenAPIType.STRING, description="the file")
            self.request_body = RequestBody(
                required=True,
                description="The file, as the body or the `file` part of a form.",
                content={
                    "text/csv": OpenAPIMediaType(schema=text),
                    "application/x-ndjson": OpenAPIMediaType(schema=text),
                    "text/vcard": OpenAPIMediaType(schema=text),
                    "multipart/form-data": OpenAPIMediaType(
                        schema=Schema(
                            type=OpenAPIType.OBJECT,
                            properties={
                                "file": Schema(type=OpenAPIType.STRING, format="binary"),  # type: ignore[arg-type]
                                "mapping": Schema(
                                    type=OpenAPIType.STRING,
                                    description="JSON object: source column -> column",
                                ),
                            },
                            required=["file"],
                        )
                    ),
                },
            )

    return ImportOperation


def import_handlers(entity: EntityType) -> list[Any]:
    """``POST /import`` of ``entity`` (served under the entity's router)."""
    name, plural = entity.name, entity.plural

    def permission(connection: Any) -> list[tuple[str, str]]:
        needed = [(name, "import"), (name, "create")]
        if connection.query_params.get("on_duplicate") == "update":
            needed.append((name, "update"))
        return needed

    @post(
        "/import",
        operation_id=f"import_{plural}",
        summary=f"Import {plural} from a file (CSV, JSON Lines, vCard)",
        description=(
            "The file is the body (`text/csv`, `application/x-ndjson`, `text/vcard`) or the "
            "`file` part of a multipart form. CSV columns are those export writes; `mapping` "
            "(a JSON object, also a form field) renames source columns (`null` ignores one), "
            "`preset` reads Google or Outlook CSV and Apple vCards. Rows are numbered from 1 "
            "(a CSV header is not a row). A row with errors is not written, the others are "
            "(in chunks), unless `atomic=true`. `dry_run=true` checks everything and writes "
            "nothing. `on_duplicate`: what a likely duplicate (or a row whose `id` exists) "
            "does: `skip`, `update` the record (blank cells keep its values), or `create` "
            "anyway. Every import is a job: `GET /api/v1/imports/{id}`, and its revert."
        ),
        status_code=201,
        opt={"permission": permission},
        request_max_body_size=None,  # the upload limit (max_upload_size) is ours, streamed
        operation_class=_operation(),
        responses={
            200: _ok("A dry run (nothing written, no job)"),
            **problem_responses(400, 401, 403, 413, 415, 422),
        },
    )
    async def import_records(
        request: Request,
        format_: Annotated[
            Literal["csv", "jsonl", "vcf"] | None,
            QueryParameter(name="format", description="default: from the media type or name"),
        ] = None,
        dry_run: Annotated[bool, QueryParameter()] = False,
        on_duplicate: Annotated[Literal["skip", "update", "create"], QueryParameter()] = "skip",
        atomic: Annotated[bool, QueryParameter()] = False,
        mapping: Annotated[
            str | None, QueryParameter(description="JSON object: source column -> column")
        ] = None,
        preset: Annotated[Literal["google", "outlook", "apple"] | None, QueryParameter()] = None,
        encoding: Annotated[str, QueryParameter(description="e.g. cp1252")] = "utf-8",
    ) -> Response[ImportReport]:
        runtime = runtime_of(request)
        upload = await read_upload(request, runtime.settings.max_upload_size)
        try:
            fields = upload.fields
            fmt = fields.get("format") or format_ or upload.format()
            if fmt is None:
                raise UnsupportedMediaType(
                    f"cannot tell the format of {upload.media_type or 'the body'}: send "
                    "text/csv, application/x-ndjson or text/vcard, or format=",
                    errors=[FieldError("format", "csv, jsonl or vcf")],
                )
            options = ImportOptions(
                format=fmt,
                on_duplicate=on_duplicate,
                dry_run=dry_run,
                atomic=atomic,
                mapping=parse_mapping(fields.get("mapping", mapping)),
                preset=fields.get("preset") or preset,
                encoding=encoding,
                filename=upload.filename,
            )
            report = await Importer(
                runtime, entity, access_of(request), options, actor=actor_of(request)
            ).run(upload.file)
        finally:
            upload.close()
        if report.id is None:
            return Response(report, status_code=200)
        return Response(
            report, status_code=201, headers={"Location": f"/api/v1/imports/{report.id}"}
        )

    return [import_records]


def _ok(description: str) -> Any:
    from litestar.openapi.datastructures import ResponseSpec

    return ResponseSpec(data_container=ImportReport, description=description)


ANY_KEY = {"permission": None}  # each job is checked against the key's grants


def imports_router() -> Router:
    """``/api/v1/imports``: the recorded imports, and their revert."""

    @get(
        "/",
        operation_id="list_imports",
        summary="List imports, newest first",
        description=(
            "The imports of entities you may import (your own only when your role is "
            "limited to your records). `entity` and `status` (running, completed, "
            "rolled_back, failed, reverted) filter; keyset paging with `cursor`."
        ),
        opt=ANY_KEY,
        responses=problem_responses(400, 401),
    )
    async def list_imports(
        request: Request,
        entity: Annotated[str | None, QueryParameter(description="an entity name")] = None,
        status: Annotated[str | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter()] = None,
    ) -> ImportPage:
        runtime = runtime_of(request)
        if entity is not None:
            found = runtime.plugins.entities.get(entity) or runtime.plugins.entity_by_plural(entity)
            if found is None:
                raise BadRequest(
                    f"no entity {entity!r}", errors=[FieldError("entity", "unknown entity")]
                )
            entity = found.name
        return await list_jobs(
            runtime, access_of(request), entity=entity, status=status, limit=limit, cursor=cursor
        )

    @get(
        "/{import_id:uuid}",
        operation_id="get_import",
        summary="Read an import: options, counts, the first errors",
        opt=ANY_KEY,
        responses=problem_responses(400, 401, 404),
    )
    async def get_import(request: Request, import_id: FromPath[UUID]) -> ImportJobInfo:
        return await get_job(runtime_of(request), access_of(request), import_id)

    @post(
        "/{import_id:uuid}/revert",
        operation_id="revert_import",
        summary="Revert an import",
        description=(
            "In one transaction: deletes (soft) the records the import created and gives the "
            "records it updated their values from before it. A 409 lists records changed "
            "since the import, unless `force=true`; reverting twice is a 409."
        ),
        status_code=200,
        opt=ANY_KEY,
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def revert(
        request: Request,
        import_id: FromPath[UUID],
        force: Annotated[bool, QueryParameter()] = False,
    ) -> RevertReport:
        return await revert_import(
            runtime_of(request),
            access_of(request),
            import_id,
            actor=actor_of(request),
            force=force,
        )

    return Router(
        path="/api/v1/imports",
        route_handlers=[list_imports, get_import, revert],
        tags=["Imports"],
        security=[{"ApiKey": []}, {"Bearer": []}],
    )
