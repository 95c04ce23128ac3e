"""DRF authentication: bearer tokens (JWT or API token) and browser sessions.

Both put the caller's :class:`Principal` into ``request.auth`` (read it with
``apps.teams.principals.principal_of``). A bad bearer token is a 401 carrying
``WWW-Authenticate: Bearer``, never a stack trace.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.functional import SimpleLazyObject
from rest_framework import authentication, exceptions

from apps.accounts.principal import Principal
from apps.accounts.tokens import authenticate_bearer
from apps.teams.principals import principal_for_user

__all__ = ["BearerAuthentication", "SessionAuthentication", "client_ip_of"]

REALM = "contextforge"


def client_ip_of(request: Any) -> str | None:
    """The caller's address as the server saw it (proxies are trusted only via the ASGI server)."""
    return request.META.get("REMOTE_ADDR") or None


def _lazy_user(user_id: int) -> Any:
    """The user row, loaded only if a view asks for ``request.user``'s fields."""
    return SimpleLazyObject(lambda: get_user_model().objects.get(pk=user_id))


class BearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <JWT or API token>``."""

    keyword = "bearer"

    def authenticate(self, request: Any) -> tuple[Any, Principal] | None:
        """Resolve the bearer token, or None when the header is absent (other classes may try)."""
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        principal = authenticate_bearer(token, client_ip_of(request))
        if principal is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return _lazy_user(principal.user_id), principal

    def authenticate_header(self, request: Any) -> str:
        """Makes DRF answer 401 (not 403) with a challenge."""
        return f'Bearer realm="{REALM}"'


class SessionAuthentication(authentication.SessionAuthentication):
    """Django session (the operator UI), with CSRF enforced; the Principal rides in ``request.auth``."""

    def authenticate(self, request: Any) -> tuple[Any, Principal] | None:
        """The signed-in user of the session, if any and active."""
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        principal = principal_for_user(user, auth_method="session", client_ip=client_ip_of(request))
        return user, principal
