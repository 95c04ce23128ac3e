"""RFC 9728 protected-resource metadata for the MCP endpoints.

/.well-known/oauth-protected-resource/mcp, /.well-known/oauth-protected-resource/servers/<id>/mcp
(and the bare path, for /mcp) tell a client which authorization server issues tokens for
the resource named in a 401's ``resource_metadata``.
"""

from __future__ import annotations

import re
from typing import Any

from ..auth import _base_url
from ..security import origin_allowed
from .common import headers_of, send_json, send_status

__all__ = ["ProtectedResourceMetadata"]

_RESOURCE = re.compile(r"^(/mcp|/servers/[^/]+/(mcp|sse|ws))?/?$")


class ProtectedResourceMetadata:
    """GET /.well-known/oauth-protected-resource[/<resource path>]."""

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        headers = headers_of(scope)
        if not origin_allowed(headers):
            await send_status(send, 403, message="Forbidden: origin or host not allowed")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_status(send, 405, {"allow": "GET"})
            return
        rest = scope.get("url_route", {}).get("kwargs", {}).get("resource") or ""
        if not _RESOURCE.match(rest):
            await send_status(send, 404, message="Unknown resource")
            return
        base = _base_url(headers, "https" if scope.get("scheme") == "https" else "http")
        document = {
            "resource": f"{base}{rest.rstrip('/') or '/mcp'}",
            "authorization_servers": [base],
            "bearer_methods_supported": ["header"],
            "resource_name": "ContextForge MCP",
        }
        await send_json(send, 200, document, {"cache-control": "public, max-age=3600"})
