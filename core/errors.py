"""The one error hierarchy of crmkit.

Every error a client can cause is a :class:`CrmError` subclass. The API maps them
to RFC 9457 ``application/problem+json`` (``crmkit.core.api.problems``) and the
CLI to a one-line message with exit code 1 (``crmkit.cli``).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "BadRequest",
    "Conflict",
    "CrmError",
    "FieldError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "PluginError",
    "PreconditionFailed",
    "SettingsError",
    "Unauthorized",
    "ValidationFailed",
]


class FieldError(msgspec.Struct, frozen=True):
    """One problem with one field of a request: ``field`` is a path like ``emails[0].address``."""

    field: str
    message: str


class CrmError(Exception):
    """Base of every crmkit error. ``status`` is the HTTP status it maps to."""

    status: int = 500
    title: str = "Internal server error"
    slug: str = "internal"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = list(errors or [])
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    @property
    def type_uri(self) -> str:
        return f"https://crmkit.dev/problems/{self.slug}"

    def one_line(self) -> str:
        """The error as a single line for the CLI."""
        if not self.errors:
            return self.detail
        fields = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        return f"{self.detail} ({fields})"


class BadRequest(CrmError):
    """The request cannot be understood: a bad filter, sort, cursor or query."""

    status = 400
    title = "Bad request"
    slug = "bad-request"


class Unauthorized(CrmError):
    status = 401
    title = "Authentication required"
    slug = "unauthorized"


class Forbidden(CrmError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(CrmError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(CrmError):
    """The change conflicts with the stored state (duplicates, version races)."""

    status = 409
    title = "Conflict"
    slug = "conflict"


class PreconditionFailed(CrmError):
    """``If-Match`` named a version that is no longer current."""

    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class PayloadTooLarge(CrmError):
    status = 413
    title = "Request body too large"
    slug = "payload-too-large"


class ValidationFailed(CrmError):
    """The body is well-formed but its values are not acceptable; ``errors`` lists each field."""

    status = 422
    title = "Validation failed"
    slug = "validation-failed"


class PluginError(CrmError):
    """A plugin cannot be loaded or registered (start-up error, one line)."""

    title = "Plugin error"
    slug = "plugin-error"


class SettingsError(CrmError):
    """The settings (environment or crmkit.toml) are invalid."""

    title = "Settings error"
    slug = "settings-error"
