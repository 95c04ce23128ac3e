"""API token endpoints per persona, and what a token can and cannot do once minted."""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken, RevokedToken
from tests.identity.snapshot import denied
from tests.personas import Personas, api_client, bearer_client

pytestmark = pytest.mark.django_db


def _mint(client, **body):
    body.setdefault("name", "my token")
    return client.post("/v1/tokens", body, format="json")


def test_mint_list_use_and_revoke(personas: Personas) -> None:
    owner = bearer_client(personas.owner)
    response = _mint(owner, description="ci", expires_in_days=30, tags=["ci"])
    assert response.status_code == 201, response.content
    data = response.json()
    secret = data["access_token"]
    token_id = data["token"]["id"]
    assert data["token"]["user_email"] == "owner@example.com" and data["token"]["is_revoked"] is False
    assert secret not in str(data["token"])
    # The secret authenticates; listing never shows it again.
    assert bearer_client(secret).get("/v1/auth/email/me").json()["email"] == "owner@example.com"
    listing = owner.get("/v1/tokens").json()
    assert listing["total"] == 1 and listing["tokens"][0]["id"] == token_id
    assert secret not in str(listing)
    detail = owner.get(f"/v1/tokens/{token_id}").json()
    assert detail["name"] == "my token" and secret not in str(detail)
    usage = owner.get(f"/v1/tokens/{token_id}/usage").json()
    assert usage["total_requests"] == 1
    # Other personas cannot see, change or revoke it: 404, nothing changes.
    for other in (personas.member, personas.outsider, personas.admin):
        client = api_client(other)
        denied(lambda c=client: c.get(f"/v1/tokens/{token_id}"), 404)
        denied(lambda c=client: c.put(f"/v1/tokens/{token_id}", {"name": "x"}, format="json"), 404)
        denied(lambda c=client: c.delete(f"/v1/tokens/{token_id}"), 404)
        denied(lambda c=client: c.get(f"/v1/tokens/{token_id}/usage"), 404)
    assert owner.put(f"/v1/tokens/{token_id}", {"name": "renamed"}, format="json").json()["name"] == "renamed"
    assert owner.delete(f"/v1/tokens/{token_id}", {"reason": "rotated"}, format="json").status_code == 204
    assert RevokedToken.objects.filter(jti=token_id).exists()
    assert bearer_client(secret).get("/v1/auth/email/me").status_code == 401
    assert owner.get("/v1/tokens").json()["total"] == 0
    assert owner.get("/v1/tokens?include_inactive=true").json()["total"] == 1


def test_token_validation_names_fields(personas: Personas) -> None:
    client = api_client(personas.owner)
    response = client.post("/v1/tokens", {"expires_in_days": 0}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"name", "expires_in_days"}
    response = _mint(client, scope={"ip_restrictions": ["nope"]})
    assert response.status_code == 400 and "ip_restrictions" in response.json()
    response = _mint(client, scope={"permissions": ["tools.fly"]})
    assert response.status_code == 400 and "permissions" in response.json()
    assert _mint(client).status_code == 201
    response = _mint(client)
    assert response.status_code == 400 and "name" in response.json()
    assert ApiToken.objects.filter(user=personas.owner).count() == 1


def test_team_tokens(personas: Personas) -> None:
    url = f"/v1/tokens/teams/{personas.team.pk}"
    denied(lambda: api_client(personas.outsider).post(url, {"name": "t"}, format="json"), 404)
    response = api_client(personas.owner).post(url, {"name": "team token"}, format="json")
    assert response.status_code == 201 and response.json()["token"]["team_id"] == str(personas.team.pk)
    member_token = api_client(personas.member).post(url, {"name": "member team token"}, format="json")
    assert member_token.status_code == 201
    # The owner (team manager) sees all team tokens, a member only their own (plus the persona one).
    owner_view = {t["name"] for t in api_client(personas.owner).get(url).json()["tokens"]}
    assert owner_view == {"team token", "member team token", "scoped persona token"}
    member_view = {t["name"] for t in api_client(personas.member).get(url).json()["tokens"]}
    assert member_view == {"member team token", "scoped persona token"}
    assert api_client(personas.outsider).get(url).status_code == 404


def test_scoped_token_cannot_widen_itself(personas: Personas) -> None:
    scoped = personas.scoped
    denied(lambda: _mint(scoped), 403)  # tokens.create is outside its permission scope
    # A JWT narrowed to tools.read can mint only tokens within tools.read.
    narrow = bearer_client(personas.owner, permissions=["tokens.create", "tools.read"])
    response = _mint(narrow, name="child")
    assert response.status_code == 201
    assert sorted(response.json()["token"]["resource_scopes"]) == ["tokens.create", "tools.read"]
    denied(lambda: _mint(narrow, name="wider", scope={"permissions": ["tools.create"]}), 400)
    team_jwt = bearer_client(personas.owner, team_id=personas.team.pk)
    response = _mint(team_jwt, name="team child")
    assert response.json()["token"]["team_id"] == str(personas.team.pk)


def test_admin_token_endpoints(personas: Personas) -> None:
    secret = _mint(api_client(personas.owner)).json()["access_token"]
    token_id = ApiToken.objects.get(user=personas.owner).pk
    for persona in (personas.owner, personas.member, personas.outsider):
        denied(lambda p=persona: api_client(p).get("/v1/tokens/admin/all"), 403)
        denied(lambda p=persona: api_client(p).delete(f"/v1/tokens/admin/{token_id}"), 403)
    denied(lambda: personas.scoped.get("/v1/tokens/admin/all"), 403)
    all_tokens = api_client(personas.admin).get("/v1/tokens/admin/all").json()
    assert all_tokens["total"] == 2
    assert api_client(personas.admin).delete(f"/v1/tokens/admin/{token_id}").status_code == 204
    assert bearer_client(secret).get("/v1/auth/email/me").status_code == 401
    assert api_client(personas.admin).delete("/v1/tokens/admin/missing").status_code == 404


def test_admin_scoped_to_team_is_not_admin(personas: Personas) -> None:
    team_admin_jwt = bearer_client(personas.admin, team_id=personas.team.pk)
    denied(lambda: team_admin_jwt.get("/v1/tokens/admin/all"), 403)
    denied(lambda: team_admin_jwt.get("/v1/auth/email/admin/users"), 403)
