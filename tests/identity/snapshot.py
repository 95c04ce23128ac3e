"""A fingerprint of every identity table, to prove that denied calls changed nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group
from guardian.models import GroupObjectPermission, UserObjectPermission

from apps.accounts.models import ApiToken, RevokedToken, User
from apps.teams.models import Role, RoleAssignment, Team, TeamInvitation, TeamJoinRequest, TeamMember

_MODELS = (
    User,
    ApiToken,
    RevokedToken,
    Team,
    TeamMember,
    TeamInvitation,
    TeamJoinRequest,
    Role,
    RoleAssignment,
    Group,
    UserObjectPermission,
    GroupObjectPermission,
)
_IGNORED = {"last_login", "last_used", "last_used_ip", "usage_count", "updated_at"}


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every identity table, minus bookkeeping columns that reads may touch."""
    state = {}
    for model in _MODELS:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in _IGNORED]
        state[model.__name__] = sorted(map(repr, model.objects.order_by("pk").values_list(*fields)))
    return state


def denied(call: Callable[[], Any], status: int) -> Any:
    """Run a call that must be refused with ``status`` and leave every identity table unchanged."""
    before = snapshot()
    response = call()
    assert response.status_code == status, response.content
    assert snapshot() == before
    return response
