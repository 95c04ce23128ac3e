"""Bearer and session authentication of the REST API, and email sign-in with lockout."""

from __future__ import annotations

import base64
import json

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.tokens import issue_jwt
from tests.personas import PASSWORD, Personas, api_client, bearer_client

pytestmark = pytest.mark.django_db

ME = "/v1/auth/email/me"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_401(response) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.content.decode()
    assert "Traceback" not in body and 'File "' not in body
    assert set(response.json()) == {"detail"}


def test_jwt_bearer_reaches_me(personas: Personas) -> None:
    response = bearer_client(personas.member).get(ME)
    assert response.status_code == 200
    assert response.json()["email"] == "member@example.com"
    assert response.json()["is_admin"] is False


def test_session_reaches_me(personas: Personas) -> None:
    assert api_client(personas.owner).get(ME).json()["email"] == "owner@example.com"


def test_scoped_api_token_reaches_me(personas: Personas) -> None:
    assert personas.scoped.get(ME).json()["email"] == "member@example.com"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer a b",
        "Bearer not-a-jwt",
        "Bearer cf_forged",
        "Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({"sub": "admin@example.com"}) + ".",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbkBleGFtcGxlLmNvbSJ9.c2lnbmF0dXJl",
    ],
)
def test_bad_credentials_are_401_with_challenge(personas: Personas, header) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    _assert_401(client.get(ME))


def test_expired_jwt_is_401(personas: Personas) -> None:
    token = issue_jwt(personas.member, minutes=-5)
    _assert_401(bearer_client(token).get(ME))


def test_deactivated_user_is_401(personas: Personas) -> None:
    from apps.accounts.services import deactivate_user

    client = bearer_client(personas.member)
    assert client.get(ME).status_code == 200
    deactivate_user(personas.member)
    _assert_401(client.get(ME))
    _assert_401(personas.scoped.get(ME))


def test_login_issues_a_working_jwt(personas: Personas) -> None:
    response = api_client(None).post(
        "/v1/auth/email/login", {"email": "Owner@Example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["token_type"] == "bearer" and data["expires_in"] > 0
    assert data["user"]["email"] == "owner@example.com"
    assert bearer_client(data["access_token"]).get(ME).status_code == 200


def test_login_validation_names_the_field(db) -> None:
    response = api_client(None).post("/v1/auth/email/login", {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"email", "password"}


def test_lockout_after_repeated_failures_and_admin_unlock(personas: Personas, settings) -> None:
    settings.MAX_FAILED_LOGIN_ATTEMPTS = 3
    client = api_client(None)
    for _ in range(3):
        response = client.post(
            "/v1/auth/email/login", {"email": "member@example.com", "password": "bad"}, format="json"
        )
        _assert_401(response)
    member = User.objects.get(email="member@example.com")
    assert member.is_locked and member.locked_until > timezone.now()
    # Even the right password is refused while locked.
    response = client.post("/v1/auth/email/login", {"email": "member@example.com", "password": PASSWORD}, format="json")
    _assert_401(response)
    assert "locked" in response.json()["detail"]
    # Only a platform admin may unlock; the owner's attempt changes nothing.
    denied = api_client(personas.owner).post("/v1/auth/email/admin/users/member@example.com/unlock")
    assert denied.status_code == 403
    assert User.objects.get(pk=member.pk).is_locked
    unlocked = api_client(personas.admin).post("/v1/auth/email/admin/users/member@example.com/unlock")
    assert unlocked.status_code == 200
    response = client.post("/v1/auth/email/login", {"email": "member@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_success_resets_the_failure_counter(personas: Personas, settings) -> None:
    settings.MAX_FAILED_LOGIN_ATTEMPTS = 3
    client = api_client(None)
    for _ in range(2):
        client.post("/v1/auth/email/login", {"email": "member@example.com", "password": "bad"}, format="json")
    assert User.objects.get(email="member@example.com").failed_login_count == 2
    client.post("/v1/auth/email/login", {"email": "member@example.com", "password": PASSWORD}, format="json")
    assert User.objects.get(email="member@example.com").failed_login_count == 0


def test_unknown_email_and_inactive_user_cannot_sign_in(personas: Personas) -> None:
    client = api_client(None)
    _assert_401(client.post("/v1/auth/email/login", {"email": "ghost@example.com", "password": "x"}, format="json"))
    User.objects.filter(pk=personas.outsider.pk).update(is_active=False)
    response = client.post(
        "/v1/auth/email/login", {"email": "outsider@example.com", "password": PASSWORD}, format="json"
    )
    _assert_401(response)
