"""The auth & policy family of the SPI, served in-process over the accounts and teams apps."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from apps.accounts.tokens import MISSING, authenticate_bearer, known_bearer
from apps.protocols.spi import CallerContext, Credentials
from apps.teams.permissions import has_permission

__all__ = ["EmbeddedAuthService"]

T = TypeVar("T")


def _releasing_connections(function: Callable[..., T]) -> Callable[..., T]:
    """Run ``function`` in a worker thread and hand its database connection back afterwards.

    Worker threads of ``sync_to_async(thread_sensitive=False)`` are not request threads,
    so Django never closes their connections; with the connection pool this returns it.
    """

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return wrapper


@_releasing_connections
def _authenticate(credentials: Credentials) -> CallerContext | None:
    if credentials.bearer:
        return authenticate_bearer(credentials.bearer, credentials.client_ip)
    if credentials.basic and settings.BASIC_AUTH_ENABLED:
        from apps.accounts.services import authenticate_password

        email, password = credentials.basic
        return authenticate_password(email, password, client_ip=credentials.client_ip, auth_method="basic")
    return None


class EmbeddedAuthService:
    """Resolves wire credentials to a caller and answers permission questions."""

    async def authenticate(self, credentials: Credentials) -> CallerContext | None:
        """Bearer JWT/API token; basic auth only when BASIC_AUTH_ENABLED. None when absent or invalid.

        A bearer this worker verified recently is answered on the loop, without a thread hop.
        """
        if credentials.bearer:
            known = known_bearer(credentials.bearer, credentials.client_ip)
            if known is not MISSING:
                return known
        return await sync_to_async(_authenticate, thread_sensitive=False)(credentials)

    async def has_permission(self, context: CallerContext, permission: str, *, team_id: int | None = None) -> bool:
        """The one permission service's answer for this caller."""
        return await sync_to_async(_releasing_connections(has_permission), thread_sensitive=False)(
            context, permission, team_id
        )
