"""RBAC and user-admin endpoints per persona."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from apps.teams.models import Role, RoleAssignment
from apps.teams.rbac import BUILTIN_ROLES, PERMISSIONS
from tests.identity.snapshot import denied
from tests.personas import SCOPED_TOKEN_PERMISSIONS, Personas, api_client, bearer_client

pytestmark = pytest.mark.django_db


def test_builtin_roles_exist_as_defined() -> None:
    for name, (scope, _, permissions) in BUILTIN_ROLES.items():
        role = Role.objects.get(name=name)
        assert role.is_system_role and role.scope == scope and sorted(role.permissions) == sorted(permissions)


def test_roles_crud(personas: Personas) -> None:
    body = {"name": "auditor", "scope": "global", "permissions": ["tools.read", "servers.read"]}
    for persona in (personas.owner, personas.member, personas.outsider):
        denied(lambda p=persona: api_client(p).post("/v1/rbac/roles", body, format="json"), 403)
    denied(lambda: personas.scoped.post("/v1/rbac/roles", body, format="json"), 403)
    denied(
        lambda: api_client(personas.admin).post("/v1/rbac/roles", {**body, "permissions": ["x.y"]}, format="json"), 400
    )
    response = api_client(personas.admin).post("/v1/rbac/roles", body, format="json")
    assert response.status_code == 201, response.content
    role_id = response.json()["id"]
    names = {r["name"] for r in api_client(personas.member).get("/v1/rbac/roles").json()}
    assert {"platform_admin", "team_admin", "developer", "viewer", "auditor"} <= names
    assert api_client(personas.member).get(f"/v1/rbac/roles/{role_id}").json()["created_by"] == "admin@example.com"
    denied(lambda: api_client(personas.owner).put(f"/v1/rbac/roles/{role_id}", {"permissions": []}, format="json"), 403)
    updated = api_client(personas.admin).put(f"/v1/rbac/roles/{role_id}", {"permissions": ["tools.*"]}, format="json")
    assert updated.json()["permissions"] == ["tools.*"]
    denied(lambda: api_client(personas.owner).delete(f"/v1/rbac/roles/{role_id}"), 403)
    viewer = Role.objects.get(name="viewer")
    denied(lambda: api_client(personas.admin).delete(f"/v1/rbac/roles/{viewer.pk}"), 400)
    denied(lambda: api_client(personas.admin).put(f"/v1/rbac/roles/{viewer.pk}", {"name": "v2"}, format="json"), 400)
    assert api_client(personas.admin).delete(f"/v1/rbac/roles/{role_id}").status_code == 200
    assert api_client(personas.admin).get(f"/v1/rbac/roles/{role_id}").status_code == 404


def test_assign_global_role_grants_permissions(personas: Personas) -> None:
    auditor = Role.objects.create(name="auditor", scope="global", permissions=["admin.users"])
    url = "/v1/rbac/users/outsider@example.com/roles"
    body = {"role_id": str(auditor.pk), "scope": "global"}
    denied(lambda: api_client(personas.owner).post(url, body, format="json"), 403)
    denied(lambda: api_client(personas.outsider).post(url, body, format="json"), 403)
    check = {"user_email": "outsider@example.com", "permission": "admin.users"}
    assert (
        api_client(personas.outsider).post("/v1/rbac/permissions/check", check, format="json").json()["granted"]
        is False
    )
    response = api_client(personas.admin).post(url, body, format="json")
    assert response.status_code == 200 and response.json()["role_name"] == "auditor"
    assert (
        api_client(personas.outsider).post("/v1/rbac/permissions/check", check, format="json").json()["granted"] is True
    )
    assert "admin.users" in api_client(personas.outsider).get("/v1/rbac/my/permissions").json()
    assert [r["role_name"] for r in api_client(personas.outsider).get("/v1/rbac/my/roles").json()] == ["auditor"]
    # Others' roles are hidden from non-admins.
    denied(lambda: api_client(personas.member).get(url), 404)
    assert len(api_client(personas.admin).get(url).json()) == 1
    revoke = f"/v1/rbac/users/outsider@example.com/roles/{auditor.pk}"
    denied(lambda: api_client(personas.outsider).delete(revoke), 403)
    assert api_client(personas.admin).delete(revoke).status_code == 200
    assert not RoleAssignment.objects.filter(user=personas.outsider).exists()


def test_team_manager_assigns_team_roles_in_their_team_only(personas: Personas) -> None:
    viewer = Role.objects.get(name="viewer")
    auditor = Role.objects.create(name="auditor", scope="global", permissions=["tools.read"])
    url = "/v1/rbac/users/outsider@example.com/roles"
    body = {"role_id": str(viewer.pk), "scope": "team", "scope_id": str(personas.team.pk)}
    denied(lambda: api_client(personas.member).post(url, body, format="json"), 403)
    denied(lambda: api_client(personas.outsider).post(url, body, format="json"), 404)
    denied(lambda: api_client(personas.owner).post(url, {**body, "scope_id": None}, format="json"), 400)
    denied(
        lambda: api_client(personas.owner).post(url, {"role_id": str(auditor.pk), "scope": "global"}, format="json"),
        403,
    )
    past = {**body, "expires_at": "2000-01-01T00:00:00Z"}
    denied(lambda: api_client(personas.owner).post(url, past, format="json"), 400)
    response = api_client(personas.owner).post(url, {**body, "expires_at": "2999-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 200 and response.json()["scope_id"] == str(personas.team.pk)
    assert response.json()["expires_at"].startswith("2999-01-01")
    check = {"user_email": "outsider@example.com", "permission": "tools.read", "team_id": str(personas.team.pk)}
    assert api_client(personas.outsider).post("/v1/rbac/permissions/check", check, format="json").json()["granted"]
    check["permission"] = "tools.create"
    assert not api_client(personas.outsider).post("/v1/rbac/permissions/check", check, format="json").json()["granted"]


def test_permission_check_of_others_needs_admin_roles(personas: Personas) -> None:
    check = {"user_email": "owner@example.com", "permission": "teams.manage", "team_id": str(personas.team.pk)}
    denied(lambda: api_client(personas.member).post("/v1/rbac/permissions/check", check, format="json"), 404)
    response = api_client(personas.admin).post("/v1/rbac/permissions/check", check, format="json")
    assert response.json() == {**response.json(), "granted": True, "checked_by": "admin@example.com"}
    denied(lambda: api_client(personas.member).get("/v1/rbac/permissions/user/owner@example.com"), 404)
    assert "teams.manage" in api_client(personas.admin).get("/v1/rbac/permissions/user/owner@example.com").json()


def test_my_permissions_follow_the_credential(personas: Personas) -> None:
    everything = set(api_client(personas.member).get("/v1/rbac/my/permissions").json())
    assert {"tools.create", "teams.read", "tokens.create"} <= everything
    # "anywhere" includes the member's personal team, which they own; but not the admin family.
    assert "teams.manage" in everything and "admin.users" not in everything
    check = {"user_email": "member@example.com", "permission": "teams.manage", "team_id": str(personas.team.pk)}
    assert not api_client(personas.member).post("/v1/rbac/permissions/check", check, format="json").json()["granted"]
    narrowed = set(personas.scoped.get("/v1/rbac/my/permissions").json())
    assert narrowed == set(SCOPED_TOKEN_PERMISSIONS)
    assert set(api_client(personas.admin).get("/v1/rbac/my/permissions").json()) == set(PERMISSIONS)
    available = api_client(personas.outsider).get("/v1/rbac/permissions/available").json()
    assert available["total_count"] == len(PERMISSIONS) and "tools" in available["permissions_by_resource"]


def test_admin_users_crud(personas: Personas) -> None:
    url = "/v1/auth/email/admin/users"
    body = {"email": "new@example.com", "password": "Sturdy-Passphrase-42", "full_name": "New"}
    for persona in (personas.owner, personas.member, personas.outsider):
        denied(lambda p=persona: api_client(p).get(url), 403)
        denied(lambda p=persona: api_client(p).post(url, body, format="json"), 403)
        denied(lambda p=persona: api_client(p).put(f"{url}/member@example.com", {"is_admin": True}, format="json"), 403)
        denied(lambda p=persona: api_client(p).delete(f"{url}/member@example.com"), 403)
    denied(lambda: personas.scoped.get(url), 403)
    denied(lambda: api_client(personas.admin).post(url, {**body, "password": "short"}, format="json"), 400)
    denied(lambda: api_client(personas.admin).post(url, {**body, "password": "new@example.com"}, format="json"), 400)
    response = api_client(personas.admin).post(url, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["auth_provider"] == "local" and response.json()["is_admin"] is False
    assert {u["email"] for u in api_client(personas.admin).get(url).json()} >= {"new@example.com", "owner@example.com"}
    assert api_client(personas.admin).get(f"{url}/new@example.com").json()["full_name"] == "New"
    response = api_client(personas.admin).put(f"{url}/new@example.com", {"is_active": False}, format="json")
    assert response.json()["is_active"] is False
    denied(lambda: api_client(personas.admin).put(f"{url}/admin@example.com", {"is_admin": False}, format="json"), 403)
    denied(lambda: api_client(personas.admin).delete(f"{url}/admin@example.com"), 403)
    assert api_client(personas.admin).delete(f"{url}/new@example.com").status_code == 200
    assert not User.objects.filter(email="new@example.com").exists()
    assert api_client(personas.admin).get(f"{url}/new@example.com").status_code == 404


def test_change_password_and_register(personas: Personas, settings) -> None:
    client = bearer_client(personas.member)
    url = "/v1/auth/email/change-password"
    denied(
        lambda: client.post(url, {"old_password": "wrong", "new_password": "Sturdy-Passphrase-42"}, format="json"), 400
    )
    denied(
        lambda: client.post(url, {"old_password": "Correct-Horse-7", "new_password": "password"}, format="json"), 400
    )
    response = client.post(
        url, {"old_password": "Correct-Horse-7", "new_password": "Sturdy-Passphrase-42"}, format="json"
    )
    assert response.status_code == 200
    assert User.objects.get(pk=personas.member.pk).check_password("Sturdy-Passphrase-42")
    register = {"email": "self@example.com", "password": "Sturdy-Passphrase-42"}
    denied(lambda: api_client(None).post("/v1/auth/email/register", register, format="json"), 403)
    settings.EMAIL_REGISTRATION_ENABLED = True
    response = api_client(None).post("/v1/auth/email/register", register, format="json")
    assert (
        response.status_code == 201
        and bearer_client(response.json()["access_token"]).get("/v1/auth/email/me").status_code == 200
    )
