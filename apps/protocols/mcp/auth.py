"""Who is calling a transport: bearer credentials resolved by the SPI AuthService.

Missing credentials are fine only when MCP_REQUIRE_AUTH is false (anonymous callers then
see what the catalog shows anonymous callers: public servers). A token scoped to some
servers cannot reach any other: that server is "not found", as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from apps.protocols.spi import ANONYMOUS, CatalogError, CoreServices, Credentials, Principal, ServerSpec

__all__ = ["Denied", "authenticate", "resource_metadata_url", "server_visible"]


@dataclass
class Denied(Exception):
    """The caller may not proceed: 401 (with a challenge) or 404."""

    status: int
    message: str
    challenge: str | None = None


def _base_url(headers: Mapping[str, str], scheme: str) -> str:
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{scheme}://{headers.get('host', f'{settings.HOST}:{settings.PORT}')}"


def resource_metadata_url(headers: Mapping[str, str], scheme: str, server_id: str | None) -> str:
    """The RFC 9728 protected-resource metadata URL of an MCP endpoint."""
    path = f"/servers/{server_id}/mcp" if server_id else "/mcp"
    return f"{_base_url(headers, scheme)}/.well-known/oauth-protected-resource{path}"


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def authenticate(
    services: CoreServices,
    headers: Mapping[str, str],
    *,
    scheme: str,
    server_id: str | None,
    client_ip: str | None,
    token: str | None = None,
) -> Principal:
    """The caller of a request, or Denied(401) with a WWW-Authenticate challenge."""
    bearer = token if token is not None else _bearer(headers)
    challenge = f'Bearer resource_metadata="{resource_metadata_url(headers, scheme, server_id)}"'
    if bearer is None:
        if "authorization" in headers or settings.MCP_REQUIRE_AUTH:
            raise Denied(401, "Authentication required", challenge)
        return ANONYMOUS if client_ip is None else ANONYMOUS.with_client_ip(client_ip)
    principal = await services.auth.authenticate(Credentials(bearer=bearer, client_ip=client_ip))
    if principal is None:
        raise Denied(401, "Invalid or expired token", challenge + ', error="invalid_token"')
    return principal


async def server_visible(services: CoreServices, principal: Principal, server_id: str) -> ServerSpec:
    """The virtual server if the caller may use it; Denied(404) otherwise (missing = forbidden)."""
    if principal.scope_server_ids is not None and server_id not in principal.scope_server_ids:
        raise Denied(404, "Server not found")
    try:
        return await services.catalog.get_server(principal, server_id)
    except CatalogError:
        raise Denied(404, "Server not found") from None
