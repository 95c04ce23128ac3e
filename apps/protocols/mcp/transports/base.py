"""The shared front of every HTTP transport: Host/Origin check, drain gate, caller and server."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from apps.protocols.registry import ModuleDraining
from apps.protocols.spi import CoreServices, Principal, ServerSpec

from ..auth import Denied, authenticate, server_visible
from ..security import origin_allowed
from .common import client_ip, headers_of, module, send_status, services

logger = logging.getLogger(__name__)

__all__ = ["Caller", "HTTPEndpoint"]


@dataclass
class Caller:
    """The resolved front matter of one HTTP request."""

    services: CoreServices
    principal: Principal
    server: ServerSpec | None
    server_id: str | None
    headers: dict[str, str]


class HTTPEndpoint:
    """An ASGI app that admits a request and hands it to ``serve`` with its ``Caller``.

    DNS-rebinding attempts get 403, callers without valid credentials 401 (with the
    RFC 9728 challenge), servers the caller cannot see 404, a draining module 503.
    """

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        headers = headers_of(scope)
        if not origin_allowed(headers):
            await send_status(send, 403, message="Forbidden: origin or host not allowed")
            return
        server_id = scope.get("url_route", {}).get("kwargs", {}).get("server_id")
        bundle = services()
        try:
            async with module().work():
                try:
                    principal = await authenticate(
                        bundle,
                        headers,
                        scheme="https" if scope.get("scheme") == "https" else "http",
                        server_id=server_id,
                        client_ip=client_ip(scope),
                    )
                    server = await server_visible(bundle, principal, server_id) if server_id else None
                except Denied as denied:
                    extra = {"www-authenticate": denied.challenge} if denied.challenge else None
                    await send_status(send, denied.status, extra, message=denied.message)
                    return
                await self.serve(scope, receive, send, Caller(bundle, principal, server, server_id, headers))
        except ModuleDraining:
            await send_status(send, 503, {"retry-after": "1"}, message="The gateway is shutting down")

    async def serve(self, scope: dict[str, Any], receive, send, caller: Caller) -> None:
        """Handle the admitted request."""
        raise NotImplementedError
