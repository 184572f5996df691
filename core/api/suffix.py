"""Format suffixes on record URLs: ``/api/v1/individuals/<id>.vcf`` is ``…/<id>/vcf``.

A plugin serves a record in another format at ``/{id}/<ext>``; this wrapper of the
app's ASGI handler (it must run before routing) lets clients ask for it the way
file-minded tools do, with a suffix on the record URL.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FormatSuffixMiddleware"]

_SUFFIX = re.compile(
    r"^(?P<record>/api/v1/[a-z0-9_-]+/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.(?P<ext>[a-z0-9]{1,10})$"
)


class FormatSuffixMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            match = _SUFFIX.match(scope["path"])
            if match:
                path = f"{match['record']}/{match['ext']}"
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)
