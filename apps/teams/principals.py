"""Building the Principal of a request or a user."""

from __future__ import annotations

from typing import Any

from apps.accounts.principal import ANONYMOUS, Principal

from .models import TeamMember

__all__ = ["principal_for_user", "principal_of"]


def principal_for_user(user: Any, **narrowing: Any) -> Principal:
    """The Principal of a user (with optional token narrowing), or ANONYMOUS."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return ANONYMOUS
    team_ids = frozenset(TeamMember.objects.filter(user_id=user.pk).values_list("team_id", flat=True))
    return Principal(
        user_id=user.pk,
        email=user.email,
        is_platform_admin=user.is_platform_admin,
        team_ids=team_ids,
        auth_method=narrowing.pop("auth_method", "session"),
        **narrowing,
    )


def principal_of(request: Any) -> Principal:
    """The caller of a Django/DRF request, computed once per request.

    Token authentication classes put a ready Principal in ``request.auth``; session
    sign-in yields one from the user.
    """
    cached = getattr(request, "_principal", None)
    if cached is not None:
        return cached
    auth = getattr(request, "auth", None)
    principal = auth if isinstance(auth, Principal) else principal_for_user(getattr(request, "user", None))
    request._principal = principal
    return principal
