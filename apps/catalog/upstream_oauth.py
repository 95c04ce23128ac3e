"""Upstream OAuth 2.1 authorization code grant: an operator's authorization, and the token store.

An operator with ``gateways.update`` on a gateway starts at ``/oauth/authorize/<id>``:
the MCP runtime finds the authorization server (RFC 9728 → RFC 8414), settles the client
identity (configured client, else client ID metadata document, else dynamic registration,
stored once on the gateway) and builds the authorization URL with a PKCE challenge. The
pending authorization is kept here (``OAuthState``: single-use, expiring, bound to the
user). The authorization server sends the browser back to ``/oauth/callback``; the runtime
exchanges the code with the PKCE verifier and the tokens land in ``OAuthToken``, encrypted,
shared by every worker, then the gateway's catalog is discovered.

The runtime reaches the store through the SPI (``OAuthStore``, served in-process by
``apps.protocols.embedded.oauth``) to load tokens, persist refreshed ones, and forget them
when the refresh token is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.teams.permissions import has_permission

from . import oauth_client, runtimes, services
from .crypto import decrypt_json, encrypt_json
from .errors import Forbidden, InvalidInput, NotFound, Unavailable
from .models import Gateway, OAuthState, OAuthToken

__all__ = [
    "acquire_refresh",
    "authorization_status",
    "begin_authorization",
    "clear_tokens",
    "complete_authorization",
    "load_client",
    "load_tokens",
    "release_refresh",
    "save_client",
    "save_tokens",
    "token_state",
]


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


# --- The token store (system actions: called by the runtime through the SPI) ---------------


def load_tokens(gateway_id: str) -> dict[str, Any] | None:
    """A gateway's tokens, ``expires_in`` counted from now (0 once expired); None when not authorized."""
    row = OAuthToken.objects.filter(gateway_id=gateway_id).first()
    if row is None:
        return None
    tokens = decrypt_json(row.secret)
    if row.expires_at is not None:
        tokens["expires_in"] = max(0, int((row.expires_at - timezone.now()).total_seconds()))
    return tokens


def save_tokens(gateway_id: str, tokens: dict[str, Any]) -> None:
    """Store a gateway's new tokens encrypted; the expiry (from ``expires_in``) and scope stay readable."""
    if not isinstance(tokens.get("access_token"), str) or not tokens["access_token"]:
        raise InvalidInput("a token response needs an access_token", "tokens")
    secret = {k: v for k, v in tokens.items() if k != "expires_in" and v is not None}
    expires_in = tokens.get("expires_in")
    expires_at = timezone.now() + timedelta(seconds=int(expires_in)) if expires_in is not None else None
    with transaction.atomic():
        if not Gateway.objects.filter(pk=gateway_id).exists():
            return  # deleted while the exchange ran
        OAuthToken.objects.update_or_create(
            gateway_id=gateway_id,
            defaults={
                "secret": encrypt_json(secret),
                "expires_at": expires_at,
                "scope": str(tokens.get("scope") or "")[:2048],
            },
        )


def clear_tokens(gateway_id: str, access_token: str) -> None:
    """Forget a gateway's tokens (it needs a new authorization), unless they changed since ``access_token``."""
    with transaction.atomic():
        row = OAuthToken.objects.select_for_update().filter(gateway_id=gateway_id).first()
        if row is not None and decrypt_json(row.secret).get("access_token") == access_token:
            row.delete()


def _lease_key(gateway_id: str) -> str:
    return f"catalog:oauth-refresh:{gateway_id}"


def acquire_refresh(gateway_id: str, seconds: float) -> bool:
    """Take a gateway's refresh lease in the cache backend (shared by workers); False while it is held."""
    return cache.add(_lease_key(gateway_id), 1, timeout=max(1, int(seconds)))


def release_refresh(gateway_id: str) -> None:
    """Give a gateway's refresh lease back."""
    cache.delete(_lease_key(gateway_id))


def load_client(gateway_id: str) -> dict[str, Any] | None:
    """The client registration stored on a gateway, if any."""
    token = Gateway.objects.filter(pk=gateway_id).values_list("oauth_registration", flat=True).first()
    return decrypt_json(token) or None if token else None


def save_client(gateway_id: str, client: dict[str, Any]) -> None:
    """Store a client registration on the gateway, encrypted (it holds the client secret)."""
    Gateway.objects.filter(pk=gateway_id).update(oauth_registration=encrypt_json(client))


# --- The operator's authorization -----------------------------------------------------------


def _runtime() -> Any:
    runtime = runtimes.get_runtime("MCP")
    if runtime is None or not callable(getattr(runtime, "begin_authorization", None)):
        raise Unavailable("no upstream runtime can authorize MCP gateways in this process", "gateway")
    return runtime


def _authorization_code_gateway(principal: Principal, gateway_id: str) -> Gateway:
    """The gateway when the caller may update it and it uses the authorization code grant."""
    with transaction.atomic():
        gateway = services._get_for_edit(principal, Gateway, gateway_id, "update")
    if not services.uses_authorization_code(gateway):
        raise InvalidInput("this gateway does not use the OAuth authorization code grant", "gateway")
    return gateway


def begin_authorization(
    principal: Principal, gateway_id: str, *, request_base: str | None = None, return_to: str = ""
) -> str:
    """Start an operator's authorization of a gateway; returns the authorization server URL to send them to.

    Needs ``gateways.update`` on the gateway. No database transaction is held while the runtime
    talks to the upstream and its authorization server (they may store a client registration).
    """
    if principal.user_id is None:
        raise Forbidden("only a signed-in user can authorize an upstream")
    gateway = _authorization_code_gateway(principal, gateway_id)
    target = services.upstream_target(gateway)
    oauth = {**target.oauth, "redirect_uri": oauth_client.redirect_uri(request_base)}
    runtime = _runtime()
    try:
        started = services._run_runtime(runtime, runtime.begin_authorization, dataclasses.replace(target, oauth=oauth))
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise Unavailable(f"could not start the authorization of {gateway.name}: {message}", "gateway") from None
    pending = {**started["pending"], "return_to": return_to}
    with transaction.atomic():
        OAuthState.objects.filter(expires_at__lt=timezone.now()).delete()
        OAuthState.objects.create(
            state_hash=_state_hash(started["state"]),
            gateway=gateway,
            user_id=principal.user_id,
            payload=encrypt_json(pending),
            expires_at=timezone.now() + timedelta(seconds=settings.OAUTH_STATE_TTL),
        )
        services.record_audit(principal, "gateway.oauth.start", entity_type="gateway", entity_id=gateway.pk)
    return started["authorization_url"]


def _claim_state(principal: Principal, state: str) -> tuple[OAuthState, dict[str, Any]]:
    """Consume a pending authorization: it is deleted whatever the outcome (single use)."""
    if not state or len(state) > 512:
        raise InvalidInput("the authorization response has no valid state", "state")
    with transaction.atomic():
        record = OAuthState.objects.select_for_update().filter(state_hash=_state_hash(state)).first()
        if record is not None:
            record.delete()
    if record is None:
        raise InvalidInput("unknown or already used authorization state", "state")
    if record.expires_at < timezone.now():
        raise InvalidInput("the authorization took too long: start it again", "state")
    if record.user_id != principal.user_id:
        raise Forbidden("this authorization was started by another user")
    return record, decrypt_json(record.payload)


def complete_authorization(
    principal: Principal, *, state: str, code: str | None, iss: str | None = None, error: str | None = None
) -> dict[str, Any]:
    """Finish an authorization at the callback: exchange the code, store the tokens, discover the gateway.

    The state must be one this user started, unused and unexpired. Returns the gateway id,
    the token expiry, the refresh report and where the operator came from (``return_to``).
    """
    record, pending = _claim_state(principal, state)
    gateway = _authorization_code_gateway(principal, record.gateway_id)
    if error:
        raise InvalidInput(f"the authorization server refused: {error[:200]}", "code")
    if not code or len(code) > 4096:
        raise InvalidInput("the authorization response has no code", "code")
    runtime = _runtime()
    target = services.upstream_target(gateway)
    target = dataclasses.replace(target, oauth={**target.oauth, "redirect_uri": pending["redirect_uri"]})
    try:
        services._run_runtime(runtime, runtime.complete_authorization, target, pending, code, iss)
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise InvalidInput(f"the authorization of {gateway.name} failed: {message}", "code") from None
    with transaction.atomic():
        OAuthToken.objects.filter(gateway=gateway).update(authorized_by_id=principal.user_id)
        services.record_audit(principal, "gateway.oauth.authorized", entity_type="gateway", entity_id=gateway.pk)
    report = services._sync_from_upstream(gateway.pk, services.upstream_target(gateway))
    return {
        "gateway_id": str(gateway.pk),
        "authorized": True,
        "expires_at": OAuthToken.objects.filter(gateway=gateway).values_list("expires_at", flat=True).first(),
        "refresh": report,
        "return_to": pending.get("return_to") or "",
    }


def authorization_status(principal: Principal, gateway_id: str) -> dict[str, Any]:
    """Whether a gateway holds usable tokens: "authorized until …" or "needs authorization" (never the tokens)."""
    gateway = Gateway.objects.visible_to(principal, "view").filter(pk=str(gateway_id)).first()
    if gateway is None or not has_permission(principal, "gateways.read", obj=gateway):
        raise NotFound(f"gateway {gateway_id} not found")
    oauth = gateway.auth_type == Gateway.AuthType.OAUTH
    status: dict[str, Any] = {
        "gateway_id": str(gateway.pk),
        "auth_type": gateway.auth_type,
        "grant_type": services.gateway_credentials(gateway).get("config", {}).get("grant_type") if oauth else None,
    }
    if not services.uses_authorization_code(gateway):
        return {**status, "authorized": None, "message": "this gateway does not use the authorization code grant"}
    return {**status, **token_state(gateway)}


def token_state(gateway: Gateway) -> dict[str, Any]:
    """What the admin and the status endpoint show of an authorization code gateway's tokens (no secrets)."""
    row = OAuthToken.objects.filter(gateway=gateway).select_related("authorized_by").first()
    has_refresh = bool(row and decrypt_json(row.secret).get("refresh_token"))
    live = row is not None and (row.expires_at is None or row.expires_at > timezone.now() or has_refresh)
    state: dict[str, Any] = {
        "authorized": live,
        "expires_at": row.expires_at if row else None,
        "refreshable": has_refresh,
        "scope": row.scope if row else "",
        "authorized_by": row.authorized_by.email if row and row.authorized_by else None,
        "authorized_at": row.updated_at if row else None,
        "authorize_url": oauth_client.authorize_url(str(gateway.pk)),
    }
    if live:
        until = f" until {row.expires_at.isoformat()}" if row.expires_at else ""
        state["message"] = f"authorized{until}" + (" (refreshable)" if has_refresh else "")
    else:
        state["message"] = f"needs authorization: start it at {state['authorize_url']}"
    return state
