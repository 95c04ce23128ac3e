"""OAuth 2.1 for upstreams, on the SDK's providers (httpx2 auth flows).

The client credentials grant runs unattended: the provider finds the authorization
server through the upstream's protected resource metadata (RFC 9728) and the server's
metadata (RFC 8414), asks the token endpoint, and repeats when the token expires or the
upstream answers 401. Tokens live only in this worker's memory (one store per
upstream and OAuth client, shared by reconnects and by the sessions of callers whose
forwarded headers differ), never at rest.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx2
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from apps.protocols.spi import CatalogError, UpstreamTarget

__all__ = ["MemoryTokenStorage", "oauth_auth"]

GRANTS = ("client_credentials",)


class MemoryTokenStorage:
    """Tokens and client registration of one credential scope, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        """The current tokens."""
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        """Keep new tokens."""
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        """The client registration, when one was made."""
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        """Keep a client registration."""
        self.client_info = client_info


_stores: dict[str, MemoryTokenStorage] = {}


def _store_key(target: UpstreamTarget, config: dict[str, Any]) -> str:
    """The upstream and OAuth client a token belongs to (forwarded caller headers play no part)."""
    material = json.dumps([target.gateway_id, target.url, sorted((k, str(v)) for k, v in config.items())])
    return hashlib.sha256(material.encode()).hexdigest()


def oauth_auth(target: UpstreamTarget) -> httpx2.Auth | None:
    """The httpx2 auth flow for an OAuth upstream, or None when it does not use OAuth."""
    config: dict[str, Any] = target.oauth or {}
    if not config:
        return None
    grant = config.get("grant_type")
    if grant not in GRANTS:
        raise CatalogError(
            "invalid_arguments",
            f"upstream {target.name}: oauth grant_type {grant!r} is not supported (use {', '.join(GRANTS)})",
        )
    missing = [k for k in ("client_id", "client_secret") if not config.get(k)]
    if missing:
        raise CatalogError("invalid_arguments", f"upstream {target.name}: oauth config needs {', '.join(missing)}")
    storage = _stores.setdefault(_store_key(target, config), MemoryTokenStorage())
    return ClientCredentialsOAuthProvider(
        server_url=target.url or "",
        storage=storage,
        client_id=str(config["client_id"]),
        client_secret=str(config["client_secret"]),
        token_endpoint_auth_method=config.get("token_endpoint_auth_method", "client_secret_basic"),
        scope=config.get("scope") or (" ".join(config["scopes"]) if config.get("scopes") else None),
        issuer=config.get("issuer"),
    )
