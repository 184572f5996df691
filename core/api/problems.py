"""Every error as RFC 9457 ``application/problem+json`` (API.md "Errors")."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException

from ..errors import BadRequest, CrmError, FieldError, ValidationFailed
from ..validation import field_errors

__all__ = ["EXCEPTION_HANDLERS", "Problem", "ProblemField", "problem_response", "problem_responses"]

log = logging.getLogger("crmkit.api")
MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemField(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document (the schema of every error response)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemField] = []
    correlation_id: str | None = None


_DESCRIPTIONS = {
    400: "Bad request (query, filter or JSON)",
    401: "Missing or invalid API key",
    403: "Not allowed",
    404: "No such record",
    409: "Conflict",
    412: "The record changed since it was read",
    413: "Request body too large",
    422: "Validation failed",
}


def problem_responses(*codes: int, descriptions: dict[int, str] | None = None) -> dict[int, Any]:
    """OpenAPI ``responses=`` entries documenting these statuses as problem+json.

    For plugin route handlers: ``@post(..., responses=problem_responses(404, 422))``.
    """
    from litestar.openapi.datastructures import ResponseSpec

    descriptions = {**_DESCRIPTIONS, **(descriptions or {})}
    return {
        code: ResponseSpec(
            data_container=Problem,
            description=descriptions.get(code, _TITLES.get(code, "Error")),
            media_type=MEDIA_TYPE,
        )
        for code in codes
    }


def problem_response(
    request: Request | None,
    status: int,
    *,
    detail: str | None = None,
    slug: str | None = None,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    title = title or _TITLES.get(status, "Error")
    slug = slug or title.lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": f"https://crmkit.dev/problems/{slug}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    # extra members never replace RFC 9457's own (``errors`` may be richer: bulk adds ids)
    protected = ("type", "title", "status", "detail", "instance")
    body.update({k: v for k, v in msgspec.to_builtins(extra or {}).items() if k not in protected})
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _crm_error(request: Request, exc: CrmError) -> Response[Any]:
    return problem_response(
        request,
        exc.status,
        detail=exc.detail,
        slug=exc.slug,
        title=exc.title,
        errors=exc.errors,
        extra=exc.extra,
    )


def _cached_body(request: Request) -> bytes | None:
    """The body Litestar already read (exception handlers are sync, so no ``await``).

    Litestar caches it in the connection state; litestar is pinned for this.
    """
    body = getattr(request._connection_state, "body", None)
    return body if isinstance(body, bytes) else None


def _validation(request: Request, exc: ValidationException) -> Response[Any]:
    """Litestar stops at the first problem; re-check the body to list every one."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    body_type = (
        request.route_handler.opt.get("body_type") if request.scope.get("route_handler") else None
    )
    if any(isinstance(e, dict) and e.get("source") == "body" for e in extra) or (
        body_type is not None and not extra
    ):
        raw = _cached_body(request)
        if body_type is not None and raw is not None:
            try:
                obj = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                return _crm_error(
                    request,
                    BadRequest(
                        "malformed JSON body", errors=[FieldError("body", "malformed JSON")]
                    ),
                )
            errors = field_errors(body_type, obj) or [FieldError("body", str(exc.detail))]
            return _crm_error(
                request,
                ValidationFailed(
                    f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the request body",
                    errors=errors,
                ),
            )
    errors = [
        FieldError(str(e.get("key") or e.get("source") or "request"), str(e.get("message")))
        for e in extra
        if isinstance(e, dict)
    ]
    detail = str(exc.detail)
    if "JSON is malformed" in detail or "decode" in detail.lower():
        errors = errors or [FieldError("body", "malformed JSON")]
    return problem_response(request, 400, detail=detail, errors=errors)


def _http(request: Request, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 429 and "RateLimit-Reset" in headers:  # RFC 9110: when to try again
        headers.setdefault("Retry-After", headers["RateLimit-Reset"])
    detail = exc.detail if exc.detail and exc.detail != _TITLES.get(status) else None
    errors = None
    # Litestar turns a body it cannot decode into a 400 from the SerializationException
    # (e.g. "Input data was truncated"): every undecodable body names the ``body``.
    if status == 400 and (
        isinstance(exc.__cause__, SerializationException)
        or (detail and "malformed" in detail.lower())
    ):
        errors = [FieldError("body", "malformed JSON")]
    return problem_response(request, status, detail=detail, errors=errors, headers=headers or None)


def _internal(request: Request, exc: Exception) -> Response[Any]:
    correlation_id = uuid.uuid4().hex
    log.error(
        "unhandled error %s on %s %s",
        correlation_id,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return problem_response(
        request,
        500,
        detail="an internal error occurred; quote the correlation id when reporting it",
        extra={"correlation_id": correlation_id},
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    CrmError: _crm_error,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _internal,
}
