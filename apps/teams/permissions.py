"""The one permission service every entry point asks.

``has_permission(principal, permission, team=None, obj=None)`` answers for the REST
API, admin UI, MCP and A2A transports alike:

1. Anonymous callers hold nothing but the use of public objects (rule 5).
2. A token's permission scope narrows: a permission outside it is refused.
3. A team-scoped token acts only in its team.
4. Platform admins hold every permission.
5. Anyone (even anonymous) may read and execute a public object.
6. Otherwise the caller holds the union of: the base permissions of every user
   (create teams, manage own tokens), global role assignments, and, in a team, the
   role its membership implies (owners: team_admin; members: TEAM_MEMBER_ROLE) plus
   team-scoped assignments there; personal-scoped roles apply in the caller's personal
   team. The owner of an object holds every non-admin permission on it.

With neither team nor obj, the question is "anywhere": every team's roles count.
Answers are memoised on the Principal instance, which lives for one request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.accounts.principal import Principal

from .rbac import BASE_USER_PERMISSIONS, BUILTIN_ROLES, matches

__all__ = ["effective_permissions", "has_permission"]

_ANY_TEAM = "any"


def _memo(principal: Principal) -> dict[Any, frozenset[str]]:
    memo = principal.__dict__.get("_permission_memo")
    if memo is None:
        memo = {}
        object.__setattr__(principal, "_permission_memo", memo)
    return memo


def _membership_role_permissions(role: str) -> list[str]:
    name = "team_admin" if role == "owner" else settings.TEAM_MEMBER_ROLE
    from .models import Role

    stored = Role.objects.filter(name=name).values_list("permissions", flat=True).first()
    if stored is not None:
        return list(stored)
    return list(BUILTIN_ROLES.get(name, ("", "", []))[2])


def effective_permissions(principal: Principal, team_id: int | str | None = _ANY_TEAM) -> frozenset[str]:
    """The permission strings (possibly wildcards) the user holds in a team, globally, or anywhere.

    ``team_id=None`` means outside any team; the default means in any team. Token
    narrowing is not applied here (``has_permission`` applies it).
    """
    if principal.user_id is None:
        return frozenset()
    memo = _memo(principal)
    if team_id in memo:
        return memo[team_id]
    from .models import RoleAssignment, TeamMember

    granted: set[str] = set(BASE_USER_PERMISSIONS)
    now = timezone.now()
    assignments = RoleAssignment.objects.filter(user_id=principal.user_id, is_active=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    memberships = TeamMember.objects.filter(user_id=principal.user_id)
    if team_id == _ANY_TEAM:
        pass
    elif team_id is None:
        assignments = assignments.filter(role__scope="global")
        memberships = memberships.none()
    else:
        in_team = Q(role__scope="global") | Q(team_id=team_id)
        if memberships.filter(team_id=team_id, team__is_personal=True).exists():
            in_team |= Q(role__scope="personal")
        assignments = assignments.filter(in_team)
        memberships = memberships.filter(team_id=team_id)
    for permissions in assignments.values_list("role__permissions", flat=True):
        granted.update(permissions or [])
    for role in memberships.values_list("role", flat=True).distinct():
        granted.update(_membership_role_permissions(role))
    result = frozenset(granted)
    memo[team_id] = result
    return result


#: Permission suffixes an anonymous caller may hold on public objects.
ANONYMOUS_ACTIONS = (".read", ".execute")


def _public_use(permission: str, obj: Any) -> bool:
    """Reading or executing a public object."""
    return obj is not None and getattr(obj, "visibility", None) == "public" and permission.endswith(ANONYMOUS_ACTIONS)


def has_permission(principal: Principal, permission: str, team: Any = None, obj: Any = None) -> bool:
    """Whether the principal holds ``permission`` (e.g. "tools.create"), in ``team`` or on ``obj``."""
    if principal.user_id is None:
        # Anonymous callers exist only where a transport admits them (MCP_REQUIRE_AUTH=false):
        # they may read and execute public objects, and nothing else.
        return _public_use(permission, obj)
    if principal.scope_permissions is not None and not matches(principal.scope_permissions, permission):
        return False
    if _public_use(permission, obj):
        # What an anonymous caller may do, any signed-in caller may do (visible_to shows them public rows too).
        return True
    team_id = getattr(team, "pk", team)
    if team_id is None and obj is not None:
        team_id = getattr(obj, "team_id", None)
    if team_id is not None:
        try:
            team_id = int(team_id)
        except (TypeError, ValueError):
            return False
    if principal.scope_team_id is not None and team_id is not None and team_id != principal.scope_team_id:
        return False
    if principal.is_platform_admin:
        return True
    if obj is not None and getattr(obj, "owner_id", None) == principal.user_id and not permission.startswith("admin."):
        return True
    if team_id is None and obj is None:
        if principal.scope_team_id is not None:
            return matches(effective_permissions(principal, principal.scope_team_id), permission)
        return matches(effective_permissions(principal), permission)
    return matches(effective_permissions(principal, team_id), permission)
