"""The one permission service: roles, scopes, token narrowing and the per-request memo."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.accounts.principal import ANONYMOUS
from apps.accounts.tokens import authenticate_bearer, issue_jwt
from apps.teams.models import Role, RoleAssignment, Team
from apps.teams.permissions import has_permission
from apps.teams.principals import principal_for_user
from tests.personas import Personas

pytestmark = pytest.mark.django_db


def test_membership_roles(personas: Personas) -> None:
    owner, member, outsider = (principal_for_user(u) for u in (personas.owner, personas.member, personas.outsider))
    team = personas.team
    assert has_permission(owner, "teams.manage", team=team)
    assert has_permission(owner, "tools.delete", team=team)
    assert not has_permission(member, "teams.manage", team=team)
    assert has_permission(member, "tools.create", team=team)  # TEAM_MEMBER_ROLE = developer
    assert not has_permission(outsider, "tools.read", team=team)
    assert not has_permission(ANONYMOUS, "tools.read")
    assert has_permission(principal_for_user(personas.admin), "admin.system")
    assert not has_permission(owner, "admin.users")


def test_team_member_role_setting(personas: Personas, settings) -> None:
    settings.TEAM_MEMBER_ROLE = "viewer"
    member = principal_for_user(personas.member)
    assert has_permission(member, "tools.execute", team=personas.team)
    assert not has_permission(member, "tools.create", team=personas.team)


def test_object_owner_and_team(personas: Personas) -> None:
    outsider = principal_for_user(personas.outsider)
    own = SimpleNamespace(owner_id=personas.outsider.pk, team_id=personas.team.pk)
    theirs = SimpleNamespace(owner_id=personas.owner.pk, team_id=personas.team.pk)
    assert has_permission(outsider, "tools.delete", obj=own)
    assert not has_permission(outsider, "tools.delete", obj=theirs)
    assert has_permission(principal_for_user(personas.member), "tools.update", obj=theirs)


def test_custom_roles_by_scope(personas: Personas) -> None:
    outsider = personas.outsider
    auditor = Role.objects.create(name="auditor", scope="global", permissions=["gateways.read"])
    ops = Role.objects.create(name="ops", scope="team", permissions=["servers.*"])
    solo = Role.objects.create(name="solo", scope="personal", permissions=["agents.create"])
    RoleAssignment.objects.create(role=auditor, user=outsider)
    RoleAssignment.objects.create(role=ops, user=outsider, team=personas.team)
    RoleAssignment.objects.create(role=solo, user=outsider)
    principal = principal_for_user(outsider)
    assert has_permission(principal, "gateways.read")
    assert has_permission(principal, "gateways.read", team=personas.team)
    assert has_permission(principal, "servers.delete", team=personas.team)
    other = Team.objects.create(name="Other", slug="other")
    assert not has_permission(principal, "servers.delete", team=other)
    personal = Team.objects.get(is_personal=True, created_by=outsider)
    assert has_permission(principal, "agents.create", team=personal)
    assert not has_permission(principal, "agents.create", team=personas.team)


def test_expired_and_inactive_assignments_do_not_count(personas: Personas) -> None:
    from datetime import timedelta

    from django.utils import timezone

    role = Role.objects.create(name="temp", scope="global", permissions=["admin.users"])
    RoleAssignment.objects.create(role=role, user=personas.outsider, expires_at=timezone.now() - timedelta(minutes=1))
    assert not has_permission(principal_for_user(personas.outsider), "admin.users")


def test_token_narrowing(personas: Personas) -> None:
    scoped = authenticate_bearer(personas.scoped_token_secret, None)
    assert has_permission(scoped, "tools.execute", team=personas.team)
    assert not has_permission(scoped, "tools.create", team=personas.team)  # member could, the token cannot
    other = Team.objects.get(is_personal=True, created_by=personas.member)
    assert not has_permission(scoped, "tools.read", team=other)  # outside the token's team
    # A scope never widens: a permission the user lacks stays denied.
    wide = authenticate_bearer(issue_jwt(personas.member, permissions=["teams.manage"]), None)
    assert not has_permission(wide, "teams.manage", team=personas.team)
    admin_in_team = authenticate_bearer(issue_jwt(personas.admin, team_id=personas.team.pk), None)
    other_team = Team.objects.create(name="Other", slug="other")
    assert not has_permission(admin_in_team, "tools.read", team=other_team)


def test_answers_are_memoised_per_principal(personas: Personas, django_assert_max_num_queries) -> None:
    member = principal_for_user(personas.member)
    has_permission(member, "tools.read", team=personas.team)
    with django_assert_max_num_queries(0):
        for permission in ("tools.read", "tools.create", "teams.manage", "prompts.execute"):
            has_permission(member, permission, team=personas.team)
    # A new principal (the next request) sees role changes.
    RoleAssignment.objects.create(role=Role.objects.get(name="team_admin"), user=personas.member, team=personas.team)
    assert not has_permission(member, "teams.manage", team=personas.team)
    assert has_permission(principal_for_user(personas.member), "teams.manage", team=personas.team)


def test_public_objects_are_usable_by_every_signed_in_caller(personas: Personas) -> None:
    other = Team.objects.create(name="Other", slug="other")
    public = SimpleNamespace(owner_id=None, team_id=other.pk, visibility="public")
    hidden = SimpleNamespace(owner_id=None, team_id=other.pk, visibility="team")
    outsider = principal_for_user(personas.outsider)
    assert has_permission(outsider, "tools.execute", obj=public)
    assert has_permission(outsider, "tools.read", obj=public)
    assert not has_permission(outsider, "tools.update", obj=public)
    assert not has_permission(outsider, "tools.execute", obj=hidden)
    # A token's permission scope still narrows.
    scoped = authenticate_bearer(issue_jwt(personas.outsider, permissions=["prompts.read"]), None)
    assert not has_permission(scoped, "tools.execute", obj=public)
