"""End-to-end OpenID Connect sign-in: a real gateway, a real fake IdP, real redirects and signatures."""

from __future__ import annotations

import re
import sys

import httpx
import pytest

from apps.accounts.models import User
from apps.teams.models import IdpGroupMapping, Role, RoleAssignment, Team, TeamMember
from tests.servers import ServerProcess, free_port, gateway_env, start_gateway

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENT_ID = "contextforge-test"
CLIENT_SECRET = "s3cret-for-tests"
PROVIDER_ID = "testidp"


@pytest.fixture(scope="module")
def idp():
    port = free_port()
    server = ServerProcess(
        [
            sys.executable,
            "-m",
            "tests.identity.fake_idp",
            "--port",
            str(port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ],
        port=port,
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def gateway(idp, django_db_setup):
    env = gateway_env(
        SSO_OIDC_CLIENT_ID=CLIENT_ID,
        SSO_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        SSO_OIDC_SERVER_URL=idp.url,
        SSO_OIDC_PROVIDER_ID=PROVIDER_ID,
        SSO_ALLOWED_DOMAINS="example.com",
    )
    with start_gateway(env=env) as server:
        yield server


def _next_user(idp, **user) -> None:
    httpx.post(f"{idp.url}/_control", json={"forge": False, "groups": [], **user}, timeout=5).raise_for_status()


def _sign_in(gateway) -> tuple[httpx.Client, httpx.Response]:
    """Walk the whole flow as a browser would: login page, POST, IdP, callback."""
    client = httpx.Client(follow_redirects=True, timeout=20)
    login = f"{gateway.url}/accounts/oidc/{PROVIDER_ID}/login/"
    page = client.get(login)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(login, data={"csrfmiddlewaretoken": csrf}, headers={"Referer": login})
    return client, response


def test_oidc_sign_in_creates_the_user_and_maps_groups(gateway, idp) -> None:
    team = Team.objects.create(name="Platform Team", slug="platform-team")
    owner = User.objects.create_user("lead@example.com", "Correct-Horse-7")
    TeamMember.objects.create(team=team, user=owner, role="owner")
    auditor = Role.objects.create(name="auditor", scope="global", permissions=["tools.read"])
    IdpGroupMapping.objects.create(provider=PROVIDER_ID, group="platform", team=team, team_role="member")
    IdpGroupMapping.objects.create(provider="", group="auditors", role=auditor)

    _next_user(idp, email="Ada@Example.com", name="Ada Lovelace", groups=["platform", "auditors", "other"])
    client, response = _sign_in(gateway)
    hops = [str(r.url) for r in response.history]
    assert any(h.startswith(f"{idp.url}/authorize") for h in hops), hops
    assert any("/login/callback/" in h for h in hops), hops
    me = client.get(f"{gateway.url}/v1/auth/email/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "ada@example.com" and me.json()["auth_provider"] == PROVIDER_ID

    ada = User.objects.get(email="ada@example.com")
    assert ada.full_name == "Ada Lovelace"
    assert Team.objects.filter(is_personal=True, created_by=ada).exists()
    membership = TeamMember.objects.get(team=team, user=ada)
    assert membership.role == "member" and membership.grant_source == f"sso:{PROVIDER_ID}"
    assert RoleAssignment.objects.filter(user=ada, role=auditor).exists()

    # Next sign-in without the groups: SSO grants are withdrawn, platform grants stay.
    _next_user(idp, email="ada@example.com", name="Ada Lovelace", groups=[])
    client, _ = _sign_in(gateway)
    assert client.get(f"{gateway.url}/v1/auth/email/me").status_code == 200
    assert not TeamMember.objects.filter(team=team, user=ada).exists()
    assert not RoleAssignment.objects.filter(user=ada, role=auditor).exists()
    assert TeamMember.objects.filter(team=team, user=owner).exists()
    assert User.objects.filter(email="ada@example.com").count() == 1


def test_forged_id_token_signs_nobody_in(gateway, idp) -> None:
    _next_user(idp, email="mallory@example.com", name="Mallory", forge=True)
    client, response = _sign_in(gateway)
    # allauth alone would skip this check (the token came straight from the IdP); the platform does not.
    assert response.status_code == 401 and "Third-Party Login Failure" in response.text
    assert not User.objects.filter(email="mallory@example.com").exists()
    assert client.get(f"{gateway.url}/v1/auth/email/me").status_code in (401, 403)


def test_email_domain_outside_the_allow_list_is_refused(gateway, idp) -> None:
    _next_user(idp, email="eve@elsewhere.org", name="Eve")
    client, response = _sign_in(gateway)
    assert response.status_code == 403
    assert not User.objects.filter(email="eve@elsewhere.org").exists()
    assert client.get(f"{gateway.url}/v1/auth/email/me").status_code in (401, 403)


def test_deactivated_user_cannot_sign_in_with_sso(gateway, idp) -> None:
    User.objects.create_user("gone@example.com", "Correct-Horse-7", is_active=False)
    _next_user(idp, email="gone@example.com", name="Gone")
    client, response = _sign_in(gateway)
    assert response.status_code == 403 and "disabled" in response.text
    assert client.get(f"{gateway.url}/v1/auth/email/me").status_code in (401, 403)
