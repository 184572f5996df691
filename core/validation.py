"""Validate a decoded body against a msgspec type, reporting every field problem.

msgspec stops at the first error; API.md wants them all. Each field is converted on
its own, so one request lists every bad, missing and unknown field.
"""

from __future__ import annotations

import re
import typing
from typing import Any, TypeVar

import msgspec

from .errors import BadRequest, FieldError, ValidationFailed

__all__ = ["decode_body", "field_errors", "validate"]

T = TypeVar("T")
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _split(exc: msgspec.ValidationError, prefix: str) -> FieldError:
    match = _AT.match(str(exc))
    assert match is not None
    path = match.group("path") or ""
    message = match.group("msg")
    message = message.replace("Expected `", "expected `").replace(
        "Object missing", "object missing"
    )
    return FieldError(f"{prefix}{path}" if prefix else (path.lstrip(".") or "body"), message)


def field_errors(tp: type[Any], obj: Any, *, prefix: str = "") -> list[FieldError]:
    """Every problem converting ``obj`` to struct type ``tp`` (an empty list when it fits)."""
    if not isinstance(obj, dict):
        return [FieldError(prefix or "body", "expected a JSON object")]
    info = {f.encode_name: f for f in msgspec.structs.fields(tp)}
    hints = typing.get_type_hints(tp, include_extras=True)
    errors: list[FieldError] = []
    dotted = f"{prefix}." if prefix else ""
    for key in obj:
        if key not in info:
            errors.append(FieldError(f"{dotted}{key}", "unknown field"))
    for name, f in info.items():
        if name not in obj:
            if f.required:
                errors.append(FieldError(f"{dotted}{name}", "required"))
            continue
        try:
            msgspec.convert(obj[name], hints[f.name])
        except msgspec.ValidationError as exc:
            errors.append(_split(exc, f"{dotted}{name}"))
    if not errors:
        try:
            msgspec.convert(obj, tp)
        except msgspec.ValidationError as exc:  # __post_init__ checks across fields
            errors.append(_split(exc, prefix))
    return errors


def validate(tp: type[T], obj: Any) -> T:
    """Convert ``obj`` to ``tp`` or raise :class:`ValidationFailed` listing every problem."""
    try:
        return msgspec.convert(obj, tp)
    except msgspec.ValidationError:
        errors = field_errors(tp, obj) or [FieldError("body", "invalid")]
        raise ValidationFailed(
            f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the request body",
            errors=errors,
        ) from None


def decode_body(tp: type[T], body: bytes) -> T:
    """Decode JSON bytes into ``tp``: malformed JSON is a 400, bad values a 422."""
    try:
        obj = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(
            f"malformed JSON: {exc}", errors=[FieldError("body", "malformed JSON")]
        ) from None
    return validate(tp, obj)
