"""Argon2id with the platform's parameters, and the password policy."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from argon2.low_level import Type
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError

from apps.accounts import services
from apps.accounts.hashers import Argon2idPasswordHasher


def test_argon2id_parameters() -> None:
    encoded = make_password("Sturdy-Passphrase-42", hasher="argon2")
    assert encoded.startswith("argon2$argon2id$")
    params = extract_parameters("$" + encoded.split("$", 1)[1])
    assert params.type is Type.ID
    assert params.time_cost == 3 and params.memory_cost == 65536 and params.parallelism == 1
    assert check_password("Sturdy-Passphrase-42", encoded)
    assert not check_password("wrong", encoded)
    assert Argon2idPasswordHasher.algorithm == "argon2"


def test_argon2id_is_the_production_hasher(settings) -> None:
    from django.conf import settings as django_settings

    production = [h for h in django_settings.PASSWORD_HASHERS if "MD5" not in h]
    assert production[0] == "apps.accounts.hashers.Argon2idPasswordHasher"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password,fragment",
    [
        ("short", "too short"),
        ("password123", "too common"),
        ("12345678901", "entirely numeric"),
        ("jane.doe@example.com", "too similar"),
    ],
)
def test_password_policy(password, fragment) -> None:
    with pytest.raises(ValidationError) as excinfo:
        services.create_user("jane.doe@example.com", password)
    assert "password" in excinfo.value.message_dict
    assert fragment in " ".join(excinfo.value.message_dict["password"])
