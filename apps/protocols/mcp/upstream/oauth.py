"""OAuth 2.1 for upstreams, on the SDK's providers (httpx2 auth flows).

Client credentials run unattended: the provider finds the authorization server through the
upstream's protected resource metadata (RFC 9728) and the server's metadata (RFC 8414), asks
the token endpoint, and repeats when the token expires or the upstream answers 401. Those
tokens are re-obtainable, so they live only in this worker's memory (one store per upstream and
OAuth client, shared by reconnects and by the sessions of callers whose forwarded headers differ).

The authorization code grant needs an operator's browser, so the SDK's one-shot flow is cut
in two: ``begin_authorization`` drives the SDK provider against the upstream's 401 (discovery,
scope selection, client identity: configured client, else the gateway's client ID metadata
document when the server supports it, else dynamic registration, stored once) up to the
point where it would send a browser away, and hands the authorization URL and PKCE verifier
to the core; ``complete_authorization`` runs the SDK's code exchange (PKCE verifier, RFC 8707
``resource``) when the browser comes back. On the call path the provider reads the tokens
from the core's ``OAuthStore`` (shared by every worker), refreshes them when they expire or
the upstream answers 401, persists the new ones, and fails with "needs authorization" (naming
where to start it) when there are none or the refresh token is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider, PKCEParameters
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.auth.utils import validate_authorization_response_iss
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)

from apps.protocols.spi import CatalogError, OAuthStore, UpstreamTarget

__all__ = [
    "MemoryTokenStorage",
    "NeedsAuthorization",
    "begin_authorization",
    "complete_authorization",
    "oauth_auth",
    "take_failure",
]

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
GRANTS = (CLIENT_CREDENTIALS, AUTHORIZATION_CODE)
CLIENT_NAME = "ContextForge gateway"
#: Seconds for each request of an authorization (discovery, registration, token exchange).
AUTHORIZATION_TIMEOUT = 15.0
#: Longest a refresh holds (or waits for) a gateway's refresh lease, and how often a waiter looks.
REFRESH_LEASE_SECONDS = 15.0
REFRESH_LEASE_POLL = 0.05


class NeedsAuthorization(CatalogError):
    """The upstream's authorization code grant has no usable tokens: an operator must authorize it."""

    def __init__(self, target: UpstreamTarget) -> None:
        url = target.oauth.get("authorize_url") or f"/oauth/authorize/{target.gateway_id}"
        super().__init__(
            "unavailable",
            f"upstream {target.name} needs authorization: a user who may update the gateway must authorize it at {url}",
            {"upstream": target.name, "reason": "authorization_required", "authorize_url": url},
        )


#: Why an auth flow tore a transport down, by credential scope: a call in flight on that
#: transport only sees "connection closed", so the pool asks here for the real reason.
_failures: dict[str, NeedsAuthorization] = {}


def take_failure(gateway_id: str) -> NeedsAuthorization | None:
    """The authorization failure that ended a transport to this upstream, once."""
    return _failures.pop(gateway_id, None)


class _AuthorizationStart(BaseException):
    """Raised out of the SDK flow where it would send a browser to the authorization server.

    A BaseException so the SDK's "OAuth flow error" handler (``except Exception``) does not log
    the expected stop as a failure; ``begin_authorization`` catches it right at the probe."""

    def __init__(self, url: str, state: str, verifier: str) -> None:
        super().__init__("authorization started")
        self.url, self.state, self.verifier = url, state, verifier


class MemoryTokenStorage:
    """Tokens and client registration of one credential scope, in memory (client credentials)."""

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


class GatewayTokenStorage:
    """The SDK's token storage over the core's ``OAuthStore`` for one authorization code gateway.

    A client configured on the gateway (``client_id``, optional ``client_secret``) wins over a
    stored registration; a stored one is dropped when it was made for another redirect URI or
    another metadata document URL. ``fresh`` hides stored tokens (a new authorization).
    """

    def __init__(self, store: OAuthStore, target: UpstreamTarget, *, fresh: bool = False) -> None:
        self.store = store
        self.target = target
        self.config = target.oauth
        self.fresh = fresh
        self.last_access_token = ""  # the access token last read or written here

    async def get_tokens(self) -> OAuthToken | None:
        """The stored tokens (``expires_in`` counted from now)."""
        if self.fresh:
            return None
        data = await self.store.load_tokens(self.target.gateway_id)
        tokens = OAuthToken.model_validate(data) if data else None
        self.last_access_token = tokens.access_token if tokens else ""
        return tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        """Persist new tokens for every worker."""
        await self.store.save_tokens(self.target.gateway_id, tokens.model_dump(mode="json", exclude_none=True))
        self.last_access_token = tokens.access_token

    async def clear_tokens(self) -> None:
        """Forget the tokens, unless another worker replaced them meanwhile: the gateway needs a new authorization."""
        await self.store.clear_tokens(self.target.gateway_id, self.last_access_token)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        """The configured client, else the stored registration when it still fits."""
        redirect_uri = self.config.get("redirect_uri")
        if self.config.get("client_id"):
            secret = self.config.get("client_secret") or None
            return OAuthClientInformationFull(
                client_id=str(self.config["client_id"]),
                client_secret=secret,
                token_endpoint_auth_method=self.config.get("token_endpoint_auth_method")
                or ("client_secret_basic" if secret else "none"),
                redirect_uris=[redirect_uri] if redirect_uri else None,
                issuer=self.config.get("issuer") or None,
            )
        data = await self.store.load_client(self.target.gateway_id)
        if not data:
            return None
        client = OAuthClientInformationFull.model_validate(data)
        registered = {str(u) for u in client.redirect_uris or ()}
        if redirect_uri and registered and redirect_uri not in registered:
            return None  # registered for another address of this gateway: register again
        metadata_url = self.config.get("client_metadata_url") or None
        is_document = client.client_secret is None and client.client_id.startswith(("https://", "http://"))
        if is_document and client.client_id != metadata_url:
            return None  # a metadata document URL this gateway no longer serves
        return client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        """Store a registration on the gateway (a configured client needs none)."""
        if self.config.get("client_id"):
            return
        await self.store.save_client(self.target.gateway_id, client_info.model_dump(mode="json", exclude_none=True))


class GatewayOAuthProvider(OAuthClientProvider):
    """The SDK's authorization code provider for a gateway whose operator authorizes in a browser.

    ``starting``: the provider runs the first half of an authorization (stopping at the
    browser redirect). Otherwise it serves calls: stored tokens only, refreshed when expired or
    refused with 401, and ``NeedsAuthorization`` instead of any browser flow.
    """

    def __init__(self, target: UpstreamTarget, storage: GatewayTokenStorage, *, starting: bool = False) -> None:
        config = target.oauth
        redirect_uri = config.get("redirect_uri")
        if not redirect_uri:
            raise CatalogError("internal", f"upstream {target.name}: no OAuth redirect URI is configured")
        metadata = OAuthClientMetadata(
            redirect_uris=[redirect_uri],
            client_name=config.get("client_name") or CLIENT_NAME,
            grant_types=[AUTHORIZATION_CODE, "refresh_token"],
            response_types=["code"],
            scope=_scope(config),
        )
        super().__init__(server_url=target.url or "", client_metadata=metadata, storage=storage)
        # The SDK accepts only HTTPS metadata document URLs; the core offers one only at an HTTPS
        # PUBLIC_BASE_URL or where the operator configured it explicitly (a loopback URL in development).
        self.context.client_metadata_url = config.get("client_metadata_url") or None
        self.target = target
        self.storage = storage
        self.starting = starting

    def _needs_authorization(self) -> NeedsAuthorization:
        failure = NeedsAuthorization(self.target)
        _failures[self.target.gateway_id] = failure
        return failure

    async def _initialize(self) -> None:
        await super()._initialize()
        if self.context.current_tokens is not None:  # the SDK does not restore the expiry of stored tokens
            self.context.update_token_expiry(self.context.current_tokens)

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        lease = False
        if not self.starting:
            async with self.context.lock:
                # Another worker may have refreshed, or an operator re-authorized: read the store again.
                if not self._initialized or not self.context.is_token_valid():
                    await self._initialize()
                if self.context.current_tokens is None:
                    raise self._needs_authorization()
            _failures.pop(self.target.gateway_id, None)
            if not self.context.is_token_valid() and self.context.can_refresh_token():
                lease = await self._take_refresh_lease()
        retried = False
        flow = super()._auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                if lease and outgoing is request:  # the refresh, if one was needed, is done
                    lease = await self._give_refresh_lease()
                response = yield outgoing
                if (
                    outgoing is request
                    and response.status_code == 401
                    and not retried
                    and not self.starting
                    and self.context.can_refresh_token()
                ):
                    # Refused before its expiry: refresh once and send again (the SDK would start
                    # a browser authorization straight away).
                    retried = True
                    await flow.aclose()
                    self.context.token_expiry_time = time.time() - 1  # (0 would read as "no expiry")
                    lease = await self._take_refresh_lease()
                    flow = super()._auth_flow(request)
                    outgoing = await flow.__anext__()
                    continue
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        finally:
            await flow.aclose()
            if lease:
                await self._give_refresh_lease()

    async def _take_refresh_lease(self) -> bool:
        """One refresh at a time across workers: wait for the gateway's lease, then read the store
        again; tokens another worker refreshed meanwhile are used instead of refreshing."""
        held = self.context.current_tokens.access_token if self.context.current_tokens else None
        store, gateway_id = self.storage.store, self.target.gateway_id
        deadline = time.monotonic() + REFRESH_LEASE_SECONDS
        taken = await store.acquire_refresh(gateway_id, REFRESH_LEASE_SECONDS)
        while not taken and time.monotonic() < deadline:
            await anyio.sleep(REFRESH_LEASE_POLL)
            taken = await store.acquire_refresh(gateway_id, REFRESH_LEASE_SECONDS)
        stored = await self.storage.get_tokens()
        if stored is not None and stored.access_token != held:
            self.context.current_tokens = stored
            self.context.update_token_expiry(stored)
        return taken

    async def _give_refresh_lease(self) -> bool:
        await self.storage.store.release_refresh(self.target.gateway_id)
        return False

    async def _perform_authorization_code_grant(self) -> tuple[str, str]:
        if not self.starting:
            await self.storage.clear_tokens()
            raise self._needs_authorization()
        # The SDK's own version awaits the browser's answer in this coroutine; here the answer
        # arrives as another request, possibly on another worker, so the URL is built the same
        # way and the state and PKCE verifier are handed to the core instead.
        if self.context.client_info is None:
            raise CatalogError("internal", f"upstream {self.target.name}: no OAuth client identity")
        if self.context.oauth_metadata and self.context.oauth_metadata.authorization_endpoint:
            endpoint = str(self.context.oauth_metadata.authorization_endpoint)
        else:
            endpoint = self.context.get_authorization_base_url(self.context.server_url) + "/authorize"
        pkce = PKCEParameters.generate()
        state = secrets.token_urlsafe(32)
        params = {
            "response_type": "code",
            "client_id": self.context.client_info.client_id,
            "redirect_uri": str(self.context.client_metadata.redirect_uris[0]),
            "state": state,
            "code_challenge": pkce.code_challenge,
            "code_challenge_method": "S256",
        }
        if self.context.should_include_resource_param(self.context.protocol_version):
            params["resource"] = self.context.get_resource_url()  # RFC 8707
        scope = _scope(self.target.oauth) or self.context.client_metadata.scope
        self.context.client_metadata.scope = scope
        if scope:
            params["scope"] = scope
            if "offline_access" in scope.split():
                params["prompt"] = "consent"
        separator = "&" if "?" in endpoint else "?"
        raise _AuthorizationStart(f"{endpoint}{separator}{urlencode(params)}", state, pkce.code_verifier)


def _scope(config: dict[str, Any]) -> str | None:
    scopes = config.get("scopes")
    return config.get("scope") or (" ".join(scopes) if isinstance(scopes, list) and scopes else None)


def _store() -> OAuthStore:
    from ..transports.common import services

    store = services().oauth
    if store is None:
        raise CatalogError("internal", "the core offers no OAuth token store to this module")
    return store


def _error(target: UpstreamTarget, exc: Exception) -> CatalogError:
    if isinstance(exc, CatalogError):
        return exc
    text = str(exc) or type(exc).__name__
    return CatalogError("invalid_arguments", f"upstream {target.name}: {text[:500]}", {"upstream": target.name})


#: A JSON-RPC request that a protected MCP endpoint refuses with 401 and its challenge.
_PROBE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "contextforge-gateway", "version": "0.1.0"},
    },
}


async def begin_authorization(target: UpstreamTarget) -> dict[str, Any]:
    """First half of an authorization: ``{"authorization_url", "state", "pending"}`` (``pending`` holds
    the PKCE verifier and what the code exchange needs; the core keeps it, encrypted)."""
    storage = GatewayTokenStorage(_store(), target, fresh=True)
    provider = GatewayOAuthProvider(target, storage, starting=True)
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    try:
        async with create_mcp_http_client(timeout=httpx2.Timeout(AUTHORIZATION_TIMEOUT), auth=provider) as http:
            response = await http.post(target.url or "", json=_PROBE, headers=headers)
    except _AuthorizationStart as start:
        context = provider.context
        return {
            "authorization_url": start.url,
            "state": start.state,
            "pending": {
                "verifier": start.verifier,
                "redirect_uri": target.oauth["redirect_uri"],
                "client_id": context.client_info.client_id if context.client_info else None,
                "scope": context.client_metadata.scope,
                "oauth_metadata": context.oauth_metadata.model_dump(mode="json", exclude_none=True)
                if context.oauth_metadata
                else None,
                "protected_resource_metadata": context.protected_resource_metadata.model_dump(
                    mode="json", exclude_none=True
                )
                if context.protected_resource_metadata
                else None,
            },
        }
    except httpx2.HTTPError as exc:
        raise CatalogError(
            "unavailable", f"upstream {target.name} is unreachable: {exc}", {"upstream": target.name}
        ) from None
    except Exception as exc:
        raise _error(target, exc) from None
    raise CatalogError(
        "invalid_arguments",
        f"upstream {target.name} did not ask for authorization (HTTP {response.status_code})",
        {"upstream": target.name},
    )


async def complete_authorization(target: UpstreamTarget, pending: dict[str, Any], code: str, iss: str | None) -> None:
    """Second half: exchange the code (PKCE verifier, ``resource``) and store the tokens."""
    storage = GatewayTokenStorage(_store(), target, fresh=True)
    provider = GatewayOAuthProvider(target, storage, starting=True)
    context = provider.context
    try:
        await provider._initialize()
        if context.client_info is None or context.client_info.client_id != pending.get("client_id"):
            raise CatalogError("invalid_arguments", f"upstream {target.name}: the OAuth client changed; start again")
        if pending.get("oauth_metadata"):
            context.oauth_metadata = OAuthMetadata.model_validate(pending["oauth_metadata"])
        if pending.get("protected_resource_metadata"):
            context.protected_resource_metadata = ProtectedResourceMetadata.model_validate(
                pending["protected_resource_metadata"]
            )
        context.client_metadata.scope = pending.get("scope")
        validate_authorization_response_iss(iss, context.oauth_metadata)  # RFC 9207
        request = await provider._exchange_token_authorization_code(code, pending["verifier"])
        async with create_mcp_http_client(timeout=httpx2.Timeout(AUTHORIZATION_TIMEOUT)) as http:
            response = await http.send(request)
            await provider._handle_token_response(response)  # stores the tokens through the storage
    except httpx2.HTTPError as exc:
        raise CatalogError(
            "unavailable", f"upstream {target.name}: token endpoint unreachable: {exc}", {"upstream": target.name}
        ) from None
    except Exception as exc:
        raise _error(target, exc) from None


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
    if grant == AUTHORIZATION_CODE:
        return GatewayOAuthProvider(target, GatewayTokenStorage(_store(), target))
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
        scope=_scope(config),
        issuer=config.get("issuer"),
    )


_stores: dict[str, MemoryTokenStorage] = {}
