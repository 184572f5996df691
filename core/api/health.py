"""``GET /health``: the process answers and the database does too."""

from litestar import Request, Response, get

from ..db.sql import sql

__all__ = ["health"]


@get("/health", operation_id="health", summary="Liveness and database check", tags=["System"])
async def health(request: Request) -> Response[dict[str, str]]:
    runtime = request.app.state.runtime
    try:
        await runtime.db.fetchval(sql("SELECT 1 AS ok"))
    except Exception as exc:  # the database is down: say so, as problem+json
        from .problems import problem_response

        return problem_response(request, 503, detail=f"database unavailable: {type(exc).__name__}")
    return Response({"status": "ok", "database": runtime.db.kind})
