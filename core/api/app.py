"""``create_app()``: the Litestar app of the enabled plugins."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from litestar import Litestar
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin  # pinned
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute

from ..custom_fields.meta import meta_handlers
from ..custom_fields.routes import custom_field_router
from ..errors import PluginError
from ..runtime import Runtime
from ..settings import Settings, load_settings
from .admin import admin_routers
from .auth import ApiKeyMiddleware, permission_guard
from .entities import entity_router
from .health import health
from .openapi import CustomFieldsOpenAPI, openapi_router
from .problems import EXCEPTION_HANDLERS, problem_responses
from .ratelimit import rate_limit_config
from .saved_searches import saved_search_router
from .suffix import FormatSuffixMiddleware

__all__ = ["create_app"]

log = logging.getLogger("crmkit.api")


class _StrictStructSchemaPlugin(StructSchemaPlugin):
    """Structs that forbid unknown fields (every request body) say so in the schema.

    Litestar's own plugin leaves ``additionalProperties`` open, so the published
    contract would accept fields the API answers with a 422 (API.md "Records").
    It subclasses a private Litestar class; litestar is pinned in pyproject.toml.
    """

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Any:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if getattr(field_definition.type_, "__struct_config__", None) is not None and (
            field_definition.type_.__struct_config__.forbid_unknown_fields
        ):
            schema.additional_properties = False
        return schema


#: Paths served without an API key; everything else goes through :class:`ApiKeyMiddleware`.
PUBLIC_PATHS = [r"^/schema", r"^/health$"]
API_SECURITY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]


def _document_every_route(app: Litestar) -> None:
    """Plugin routes included, every error is problem+json and every key-protected route
    needs a key: say so in the OpenAPI document where a route does not say it itself
    (Litestar would describe a 400 in its own error format, and no security). A route
    with path parameters may answer 404 (no such record), one with a body 422."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or any(re.match(p, route.path) for p in PUBLIC_PATHS):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            codes = [400, 401]
            if route.path_parameters:
                codes.append(404)
            if "data" in handler.parsed_fn_signature.parameters:
                codes.append(422)
            handler.responses = {**problem_responses(*codes), **(handler.responses or {})}
            security = handler.resolve_security()  # the list the OpenAPI document reads
            if not security:
                security.extend(API_SECURITY)


def _require_permissions(app: Litestar) -> None:
    """Allow-lists: every ``/api/`` route says what it needs (``opt={"permission": ...}``,
    ``None`` for any valid key). A route that does not is a start-up error naming it, so
    no plugin route is ever open to every role by omission."""
    missing = [
        f"{', '.join(sorted(handler.http_methods))} {route.path}"
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/")
        for handler in route.route_handlers
        if "permission" not in handler.opt and handler.http_methods != {"OPTIONS"}
    ]
    if missing:
        raise PluginError(
            "routes without a declared permission (opt={'permission': ...}): "
            + "; ".join(sorted(missing))
        )


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    extra_plugins: Mapping[str, Any] | None = None,
) -> Litestar:
    """Build the API from the enabled plugins (uvicorn calls it with no arguments)."""
    runtime = runtime or Runtime.create(settings or load_settings(), extra_plugins=extra_plugins)
    settings = runtime.settings
    for name, error in runtime.plugins.failures.items():
        log.error("plugin %s is not loaded: %s", name, error)
    if not settings.auth:
        log.warning("auth is OFF (CRMKIT_AUTH=false): every request acts as an admin")

    handlers: list[Any] = [health]
    for entity in runtime.entities:
        handlers.append(
            entity_router(
                entity,
                default_limit=settings.page_size,
                max_limit=settings.max_page_size,
                bulk_actions=runtime.plugins.bulk_actions_for(entity.name),
            )
        )
    handlers.append(custom_field_router())
    handlers.append(
        saved_search_router(default_limit=settings.page_size, max_limit=settings.max_page_size)
    )
    handlers.extend(admin_routers())
    handlers.extend(meta_handlers())
    from .imports import imports_router  # the import jobs (core/transfer/jobs.py)

    handlers.append(imports_router())
    for extra in runtime.plugins.hook.route_handlers(runtime=runtime):
        handlers.extend(extra or [])

    async def start(app: Litestar) -> None:
        await runtime.start()

    async def stop(app: Litestar) -> None:
        await runtime.stop()

    app = Litestar(
        route_handlers=handlers,
        on_startup=[start],
        on_shutdown=[stop],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            *(
                [rate_limit_config(settings.rate_limit, PUBLIC_PATHS).middleware]
                if settings.rate_limit > 0
                else []
            ),
            DefineMiddleware(ApiKeyMiddleware, exclude=PUBLIC_PATHS),
        ],
        guards=[permission_guard],
        request_max_body_size=settings.max_body_size,
        plugins=[_StrictStructSchemaPlugin()],
        openapi_config=OpenAPIConfig(
            title="crmkit",
            version="0.1.0",
            description="A headless, plugin-based CRM. Errors are RFC 9457 problem+json.",
            path="/schema",
            openapi_router=openapi_router("/schema"),  # loads the custom fields
            render_plugins=[ScalarRenderPlugin(), CustomFieldsOpenAPI()],
            components=Components(
                security_schemes={
                    "Bearer": SecurityScheme(type="http", scheme="bearer"),
                    "ApiKey": SecurityScheme(
                        type="apiKey", name="X-API-Key", security_scheme_in="header"
                    ),
                }
            ),
        ),
        debug=False,
    )
    app.state.runtime = runtime
    # Before routing (Litestar's own middleware runs after it): `<id>.vcf` -> `<id>/vcf`.
    app.asgi_handler = FormatSuffixMiddleware(app.asgi_handler)
    _document_every_route(app)
    _require_permissions(app)
    return app
