"""DRF permission classes that read the Principal rather than loading the user row."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions

from apps.teams.principals import principal_of

__all__ = ["IsAuthenticated", "IsPlatformAdmin"]


class IsAuthenticated(permissions.BasePermission):
    """Any authenticated caller (session, JWT or API token)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        """True for a known, active user."""
        return principal_of(request).is_authenticated


class IsPlatformAdmin(permissions.BasePermission):
    """Platform admins only (a team-scoped token of an admin is not an admin)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        """True for a platform admin whose credential is not narrowed to a team."""
        principal = principal_of(request)
        return principal.is_platform_admin and principal.scope_team_id is None
