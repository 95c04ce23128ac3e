"""Upstream OAuth endpoints, at ContextForge's paths.

- ``GET /oauth/authorize/<gateway_id>[?next=/admin/...]``: start an authorization (302 to the
  upstream's authorization server); needs ``gateways.update`` on the gateway.
- ``GET /oauth/callback?code=..&state=..``: where the authorization server sends the browser back;
  the same signed-in user must arrive. 302 to ``next`` when one was given, else JSON.
- ``GET /oauth/status/<gateway_id>``: "authorized until …" or "needs authorization" (never tokens).
- ``GET /oauth/client-metadata.json``: the gateway's client ID metadata document (public).

Sign-in is the REST API's: a bearer token or the admin session. A browser without either is
sent to the admin sign-in page and back.
"""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.teams.principals import principal_of

from . import oauth_client, upstream_oauth
from .api.base import catalog_exception_handler

__all__ = ["ClientMetadataView", "OAuthAuthorizeView", "OAuthCallbackView", "OAuthStatusView"]


def _request_base(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class _OAuthView(APIView):
    """Catalog error answers; browsers that are not signed in go to the admin sign-in page."""

    schema = None

    def get_exception_handler(self):
        return catalog_exception_handler

    def permission_denied(self, request, message=None, code=None):
        if not request.successful_authenticator and "text/html" in request.headers.get("accept", ""):
            raise _SignIn(request.get_full_path())
        super().permission_denied(request, message, code)

    def handle_exception(self, exc):
        if isinstance(exc, _SignIn):
            return HttpResponseRedirect(f"/admin/login/?next={quote(exc.path)}")
        return super().handle_exception(exc)


class _SignIn(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class OAuthAuthorizeView(_OAuthView):
    """Start the authorization code grant of a gateway: redirect to its authorization server."""

    def get(self, request, gateway_id: str):
        target = request.query_params.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts=None) or not target.startswith("/"):
            target = ""
        url = upstream_oauth.begin_authorization(
            principal_of(request), gateway_id, request_base=_request_base(request), return_to=target
        )
        return HttpResponseRedirect(url)


class OAuthCallbackView(_OAuthView):
    """Finish the authorization: exchange the code, store the tokens, discover the gateway."""

    def get(self, request):
        params = request.query_params
        result = upstream_oauth.complete_authorization(
            principal_of(request),
            state=params.get("state", ""),
            code=params.get("code"),
            iss=params.get("iss"),
            error=params.get("error_description") or params.get("error"),
        )
        if result["return_to"]:
            return HttpResponseRedirect(result["return_to"])
        return Response({k: v for k, v in result.items() if k != "return_to"})


class OAuthStatusView(_OAuthView):
    """Whether a gateway is authorized, and until when."""

    def get(self, request, gateway_id: str):
        return Response(upstream_oauth.authorization_status(principal_of(request), gateway_id))


class ClientMetadataView(APIView):
    """The client ID metadata document authorization servers fetch (the URL is the client ID)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = None

    def get(self, request):
        return Response(oauth_client.client_metadata_document(_request_base(request)))
