"""The platform admin bootstrap and the password hasher."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.hashers import identify_hasher, make_password
from django.core.management import call_command

from apps.accounts.hashers import Argon2idPasswordHasher
from apps.accounts.models import User


@pytest.mark.django_db
def test_bootstrap_is_idempotent(settings):
    settings.PLATFORM_ADMIN_EMAIL = "root@example.com"
    settings.PLATFORM_ADMIN_PASSWORD = "a-good-long-password"
    out, err = StringIO(), StringIO()
    call_command("bootstrap_admin", stdout=out, stderr=err)
    call_command("bootstrap_admin", stdout=out, stderr=err)
    assert "created" in out.getvalue() and "already exists" in out.getvalue()
    admin = User.objects.get(email="root@example.com")
    assert admin.is_platform_admin and admin.is_staff and admin.is_superuser
    assert admin.check_password("a-good-long-password")
    assert User.objects.filter(email="root@example.com").count() == 1


@pytest.mark.django_db
def test_bootstrap_warns_about_development_credentials(settings):
    settings.PLATFORM_ADMIN_PASSWORD = "changeme"
    err = StringIO()
    call_command("bootstrap_admin", stdout=StringIO(), stderr=err)
    assert "WARNING: development credentials in use" in err.getvalue()


def test_argon2id_with_the_platform_cost(settings):
    settings.PASSWORD_HASHERS = ["apps.accounts.hashers.Argon2idPasswordHasher"]
    encoded = make_password("Correct-Horse-7")
    assert encoded.startswith("argon2$argon2id$v=19$m=65536,t=3,p=1$")
    assert isinstance(identify_hasher(encoded), Argon2idPasswordHasher)
