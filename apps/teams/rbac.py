"""The permission catalogue, built-in roles and wildcard matching.

Permissions are ``<family>.<action>`` strings; a role may hold ``<family>.*`` or ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BASE_USER_PERMISSIONS",
    "BUILTIN_ROLES",
    "PERMISSIONS",
    "is_known_permission",
    "matches",
]

_CATALOG_FAMILIES = ("tools", "resources", "prompts", "servers", "gateways", "agents")
_CATALOG_ACTIONS = ("read", "create", "update", "delete", "execute")

PERMISSIONS: tuple[str, ...] = (
    *(f"{family}.{action}" for family in _CATALOG_FAMILIES for action in _CATALOG_ACTIONS),
    "teams.read",
    "teams.create",
    "teams.update",
    "teams.delete",
    "teams.manage",
    "teams.join",
    "tokens.read",
    "tokens.create",
    "tokens.update",
    "tokens.revoke",
    "admin.users",
    "admin.roles",
    "admin.tokens",
    "admin.system",
)

_CATALOG_ALL = [f"{family}.*" for family in _CATALOG_FAMILIES]
_CATALOG_READ = [f"{family}.read" for family in _CATALOG_FAMILIES]

#: Built-in roles: name → (scope, description, permissions).
BUILTIN_ROLES: dict[str, tuple[str, str, list[str]]] = {
    "platform_admin": ("global", "Every permission everywhere.", ["*"]),
    "team_admin": (
        "team",
        "Manages a team: its members, its catalog objects and its tokens.",
        [*_CATALOG_ALL, "teams.read", "teams.update", "teams.delete", "teams.manage", "tokens.*"],
    ),
    "developer": (
        "team",
        "Builds with a team's catalog: reads, creates, changes and runs objects.",
        [*_CATALOG_ALL, "teams.read", "tokens.read", "tokens.create"],
    ),
    "viewer": ("team", "Reads a team's catalog and runs its tools.", [*_CATALOG_READ, "tools.execute", "teams.read"]),
}

#: What every signed-in user may do on their own behalf (create teams, manage own tokens).
BASE_USER_PERMISSIONS: frozenset[str] = frozenset(
    {"teams.create", "teams.join", "tokens.read", "tokens.create", "tokens.update", "tokens.revoke"}
)


def is_known_permission(permission: str) -> bool:
    """Whether ``permission`` names a catalogued permission or a valid wildcard."""
    if permission == "*":
        return True
    if permission.endswith(".*"):
        family = permission[:-2]
        return any(p.startswith(family + ".") for p in PERMISSIONS)
    return permission in PERMISSIONS


def matches(granted: Iterable[str], permission: str) -> bool:
    """Whether any granted permission (exact, ``family.*`` or ``*``) covers ``permission``."""
    family = permission.split(".", 1)[0]
    return any(entry in ("*", permission, f"{family}.*") for entry in granted)
