"""Management commands: create_token and bootstrap_admin."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import User
from apps.accounts.tokens import authenticate_bearer, decode_jwt
from tests.personas import Personas

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_token", *args, stdout=out)
    return out.getvalue()


def test_create_token_prints_only_a_jwt(personas: Personas) -> None:
    output = _run("--email", "member@example.com", "--minutes", "5")
    token = output.strip()
    assert output == token + "\n" and token.count(".") == 2
    claims = decode_jwt(token)
    assert claims["sub"] == "member@example.com" and claims["exp"] - claims["iat"] == 300
    assert authenticate_bearer(token, None).user_id == personas.member.pk


def test_create_token_with_scopes(personas: Personas) -> None:
    token = _run("--email", "member@example.com", "--team", "blue-team", "--server", "s1", "--server", "s2").strip()
    principal = authenticate_bearer(token, None)
    assert principal.scope_team_id == personas.team.pk
    assert principal.scope_server_ids == frozenset({"s1", "s2"})
    assert decode_jwt(_run("--email", "member@example.com", "--team", str(personas.team.pk)).strip())["scopes"]


@pytest.mark.parametrize(
    "args,field",
    [
        (["--email", "ghost@example.com"], "--email"),
        (["--email", "member@example.com", "--minutes", "0"], "--minutes"),
        (["--email", "member@example.com", "--team", "nope"], "--team"),
        (["--email", "outsider@example.com", "--team", "blue-team"], "--team"),
    ],
)
def test_create_token_errors_name_the_option(personas: Personas, args, field) -> None:
    with pytest.raises(CommandError, match=field):
        _run(*args)


def test_bootstrap_admin_is_idempotent(db, settings) -> None:
    settings.PLATFORM_ADMIN_EMAIL = "root@example.com"
    settings.PLATFORM_ADMIN_PASSWORD = "Sturdy-Passphrase-42"
    out = io.StringIO()
    call_command("bootstrap_admin", stdout=out, stderr=io.StringIO())
    assert "created" in out.getvalue()
    admin = User.objects.get(email="root@example.com")
    assert admin.is_platform_admin and admin.check_password("Sturdy-Passphrase-42")
    User.objects.filter(pk=admin.pk).update(is_active=False)
    admin.set_password("Changed-By-Operator-9")
    admin.save()
    out = io.StringIO()
    call_command("bootstrap_admin", stdout=out, stderr=io.StringIO())
    assert "already exists" in out.getvalue()
    admin.refresh_from_db()
    assert admin.is_active and admin.check_password("Changed-By-Operator-9")
    assert User.objects.filter(email="root@example.com").count() == 1
