"""Browser sign-in through allauth (and the admin login) obeys the lockout."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from tests.personas import PASSWORD, Personas

pytestmark = pytest.mark.django_db


def _login(client: Client, password: str):
    return client.post("/accounts/login/", {"login": "member@example.com", "password": password})


def test_allauth_login_with_email_and_password(personas: Personas) -> None:
    client = Client()
    response = _login(client, PASSWORD)
    assert response.status_code == 302
    assert client.get("/v1/auth/email/me").json()["email"] == "member@example.com"


def test_allauth_login_counts_failures_and_locks(personas: Personas, settings) -> None:
    settings.MAX_FAILED_LOGIN_ATTEMPTS = 3
    client = Client()
    for _ in range(3):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    assert User.objects.get(pk=personas.member.pk).is_locked
    assert _login(client, PASSWORD).status_code == 200
    assert client.get("/v1/auth/email/me").status_code == 401  # no session was opened


def test_admin_login_obeys_lockout(personas: Personas, settings) -> None:
    settings.MAX_FAILED_LOGIN_ATTEMPTS = 2
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "admin@example.com", "password": "wrong"})
    response = client.post("/admin/login/?next=/admin/", {"username": "admin@example.com", "password": PASSWORD})
    assert response.status_code == 200 and User.objects.get(pk=personas.admin.pk).is_locked
