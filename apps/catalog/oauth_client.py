"""The gateway as an OAuth client of upstream authorization servers: its URLs and metadata document.

The redirect URI is ``<base>/oauth/callback`` where the base is ``PUBLIC_BASE_URL`` (else the
URL the operator's request came in on, else ``http://HOST:PORT``). The client ID metadata
document (draft-ietf-oauth-client-id-metadata-document) is served at
``/oauth/client-metadata.json``; its URL is the client ID, used when an authorization server
advertises ``client_id_metadata_document_supported``. Authorization servers fetch it, so it is
only offered at an HTTPS ``PUBLIC_BASE_URL`` or at an explicitly configured
``OAUTH_CLIENT_METADATA_URL``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

__all__ = [
    "AUTHORIZATION_CODE",
    "CALLBACK_PATH",
    "METADATA_PATH",
    "authorize_url",
    "base_url",
    "client_metadata_document",
    "client_metadata_url",
    "redirect_uri",
]

AUTHORIZATION_CODE = "authorization_code"
CALLBACK_PATH = "/oauth/callback"
METADATA_PATH = "/oauth/client-metadata.json"


def base_url(request_base: str | None = None) -> str:
    """Where operators and authorization servers reach this gateway (no trailing slash)."""
    base = settings.PUBLIC_BASE_URL or request_base or f"http://{settings.HOST}:{settings.PORT}"
    return base.rstrip("/")


def redirect_uri(request_base: str | None = None) -> str:
    """The redirect URI registered with upstream authorization servers."""
    return base_url(request_base) + CALLBACK_PATH


def authorize_url(gateway_id: str, request_base: str | None = None) -> str:
    """Where an operator starts the authorization of a gateway."""
    return f"{base_url(request_base)}/oauth/authorize/{gateway_id}"


def client_metadata_url() -> str | None:
    """The URL of this gateway's client ID metadata document, when one can be offered."""
    if settings.OAUTH_CLIENT_METADATA_URL:
        return settings.OAUTH_CLIENT_METADATA_URL
    if settings.PUBLIC_BASE_URL.startswith("https://"):
        return base_url() + METADATA_PATH
    return None


def client_metadata_document(request_base: str | None = None) -> dict[str, Any]:
    """The client ID metadata document: a public client (PKCE, no secret) with one redirect URI."""
    return {
        "client_id": client_metadata_url() or base_url(request_base) + METADATA_PATH,
        "client_name": settings.OAUTH_CLIENT_NAME,
        "client_uri": base_url(request_base),
        "redirect_uris": [redirect_uri(request_base)],
        "grant_types": [AUTHORIZATION_CODE, "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
