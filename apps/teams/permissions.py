"""The one permission service every entry point asks.

``has_permission(principal, permission, team=None, obj=None)`` answers for the REST
API, admin UI, MCP and A2A transports alike.
"""

from __future__ import annotations

from typing import Any

from apps.accounts.principal import Principal

__all__ = ["has_permission"]


def has_permission(principal: Principal, permission: str, team: Any = None, obj: Any = None) -> bool:
    """Whether the principal holds ``permission`` (e.g. "tools.create"), optionally in a team.

    Interim rule until role-based access control lands: platform admins hold every
    permission; a token's permission scope narrows; any signed-in user holds the
    permission within their own teams and on objects they own.
    """
    if principal.user_id is None:
        return False
    if principal.scope_permissions is not None and permission not in principal.scope_permissions:
        return False
    if principal.is_platform_admin:
        return True
    if obj is not None and getattr(obj, "owner_id", None) == principal.user_id:
        return True
    team_id = getattr(team, "pk", team)
    if team_id is None and obj is not None:
        team_id = getattr(obj, "team_id", None)
    return team_id is None or team_id in principal.team_ids
