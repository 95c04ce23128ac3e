"""The Django admin: identity models are manageable, and token secrets are shown only once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiToken, User
from apps.accounts.tokens import authenticate_bearer
from tests.personas import Personas

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(personas: Personas) -> Client:
    client = Client()
    client.force_login(personas.admin)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/user/",
        "/admin/accounts/apitoken/",
        "/admin/accounts/revokedtoken/",
        "/admin/teams/team/",
        "/admin/teams/teaminvitation/",
        "/admin/teams/teamjoinrequest/",
        "/admin/teams/role/",
        "/admin/teams/roleassignment/",
        "/admin/guardian/userobjectpermission/",
        "/admin/guardian/groupobjectpermission/",
        "/admin/accounts/apitoken/add/",
        "/admin/teams/role/add/",
    ],
)
def test_admin_pages_render(admin_browser: Client, url: str) -> None:
    assert admin_browser.get(url).status_code == 200


def test_only_platform_admins_use_the_admin(personas: Personas) -> None:
    client = Client()
    client.force_login(personas.owner)
    assert client.get("/admin/accounts/user/").status_code == 302


def test_token_secret_is_shown_once(admin_browser: Client, personas: Personas) -> None:
    response = admin_browser.post(
        "/admin/accounts/apitoken/add/",
        {
            "user": personas.owner.pk,
            "name": "from admin",
            "description": "",
            "expires_at_0": "",
            "expires_at_1": "",
            "team": personas.team.pk,
            "server_ids": "[]",
            "permissions": '["tools.read"]',
            "ip_restrictions": "[]",
        },
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    secret = next(m.split(": ")[-1] for m in shown if "will not be shown again" in m)
    token = ApiToken.objects.get(name="from admin")
    assert authenticate_bearer(secret, None).scope_permissions == frozenset({"tools.read"})
    page = admin_browser.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert secret not in page and token.token_hash not in page
    admin_browser.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True)
    assert authenticate_bearer(secret, None) is None


def test_unlock_action(admin_browser: Client, personas: Personas) -> None:
    User.objects.filter(pk=personas.member.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=5))
    admin_browser.post("/admin/accounts/user/", {"action": "unlock", "_selected_action": [personas.member.pk]})
    assert not User.objects.get(pk=personas.member.pk).is_locked
