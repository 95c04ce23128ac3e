"""JWTs, API tokens and the one bearer resolver."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import pytest
from asgiref.sync import async_to_sync
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone

from apps.accounts import services
from apps.accounts.models import ApiToken, RevokedToken
from apps.accounts.tokens import auth_epoch, authenticate_bearer, decode_jwt, issue_jwt
from apps.protocols.embedded.auth import EmbeddedAuthService
from apps.protocols.spi import Credentials
from tests.personas import SCOPED_TOKEN_PERMISSIONS, Personas

pytestmark = pytest.mark.django_db


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user, **overrides):
    now = int(timezone.now().timestamp())
    claims = {
        "sub": user.email,
        "iss": "contextforge",
        "aud": "contextforge-api",
        "iat": now,
        "exp": now + 600,
        "jti": "j-1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_issued_jwt_resolves_to_the_user(personas: Personas) -> None:
    token = issue_jwt(personas.member, minutes=5)
    principal = authenticate_bearer(token, "10.0.0.1")
    assert principal is not None
    assert principal.user_id == personas.member.pk
    assert principal.auth_method == "jwt"
    assert principal.client_ip == "10.0.0.1"
    assert personas.team.pk in principal.team_ids
    assert principal.scope_team_id is None and principal.scope_permissions is None


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda u: jwt.encode(_claims(u), "another-secret-of-sufficient-length-123", "HS256"), id="forged"),
        pytest.param(lambda u: jwt.encode(_claims(u, exp=1000, iat=900), _secret(), "HS256"), id="expired"),
        pytest.param(lambda u: jwt.encode(_claims(u, iss="evil"), _secret(), "HS256"), id="issuer"),
        pytest.param(lambda u: jwt.encode(_claims(u, aud="other"), _secret(), "HS256"), id="audience"),
        pytest.param(lambda u: jwt.encode(_claims(u, jti=None), _secret(), "HS256"), id="no-jti"),
        pytest.param(lambda u: jwt.encode(_claims(u, sub="ghost@example.com"), _secret(), "HS256"), id="unknown-sub"),
        pytest.param(
            lambda u: jwt.encode(_claims(u), _secret(), "HS512"),
            id="other-alg",
            marks=pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
        ),
        pytest.param(lambda u: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(u))}.", id="alg-none"),
        pytest.param(lambda u: "not.a.jwt", id="malformed"),
        pytest.param(lambda u: "x" * 10000, id="oversized"),
        pytest.param(lambda u: "cf_unknown-api-token", id="unknown-api-token"),
        pytest.param(lambda u: "", id="empty"),
    ],
)
def test_bad_tokens_are_rejected(personas: Personas, mutate) -> None:
    assert authenticate_bearer(mutate(personas.member), None) is None


def _secret() -> str:
    from django.conf import settings

    return settings.JWT_SECRET_KEY


def test_expiry_honours_leeway(personas: Personas, settings) -> None:
    now = int(timezone.now().timestamp())
    settings.JWT_LEEWAY_SECONDS = 60
    recent = jwt.encode(_claims(personas.member, exp=now - 10, iat=now - 100), _secret(), "HS256")
    assert decode_jwt(recent)["sub"] == personas.member.email
    settings.JWT_LEEWAY_SECONDS = 0
    assert authenticate_bearer(recent, None) is None


def test_revoking_a_jti_takes_effect_despite_the_cache(personas: Personas) -> None:
    token = issue_jwt(personas.member, jti="revoke-me")
    assert authenticate_bearer(token, None) is not None
    epoch = auth_epoch()
    services.revoke_jti("revoke-me", revoked_by="admin@example.com")
    assert auth_epoch() > epoch
    assert RevokedToken.objects.filter(jti="revoke-me").exists()
    assert authenticate_bearer(token, None) is None


def test_deactivated_user_loses_every_credential(personas: Personas) -> None:
    jwt_token = issue_jwt(personas.member)
    assert authenticate_bearer(jwt_token, None) is not None
    assert authenticate_bearer(personas.scoped_token_secret, None) is not None
    services.deactivate_user(personas.member)
    assert authenticate_bearer(jwt_token, None) is None
    assert authenticate_bearer(personas.scoped_token_secret, None) is None


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_asymmetric_algorithms_with_key_files(personas: Personas, settings, tmp_path, algorithm) -> None:
    key = rsa.generate_private_key(65537, 2048) if algorithm == "RS256" else ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "private.pem"
    public = tmp_path / "public.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    settings.JWT_ALGORITHM = algorithm
    settings.JWT_PRIVATE_KEY_FILE = str(private)
    settings.JWT_PUBLIC_KEY_FILE = str(public)
    token = issue_jwt(personas.owner)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert authenticate_bearer(token, None).user_id == personas.owner.pk
    # An HS256 token signed with the public key as secret (key confusion) is refused.
    confused = jwt.encode(_claims(personas.owner), "x" * 64, "HS256")
    assert authenticate_bearer(confused, None) is None


def test_api_token_secret_is_stored_only_as_hash(personas: Personas) -> None:
    token, secret = services.create_api_token(personas.owner, name="ci")
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret.startswith("cf_") and secret not in (stored.token_hash, stored.token_prefix)
    assert len(stored.token_hash) == 64
    principal = authenticate_bearer(secret, "127.0.0.1")
    assert principal.auth_method == "api_token" and principal.token_id == token.pk
    assert principal.scope_team_id is None


def test_scoped_api_token_narrows(personas: Personas) -> None:
    principal = authenticate_bearer(personas.scoped_token_secret, None)
    assert principal.user_id == personas.member.pk
    assert principal.scope_team_id == personas.team.pk
    assert principal.scope_permissions == frozenset(SCOPED_TOKEN_PERMISSIONS)


def test_api_token_usage_is_counted(personas: Personas) -> None:
    from apps.accounts.tokens import pending_usage

    token, secret = services.create_api_token(personas.owner, name="counted")
    for _ in range(3):
        assert authenticate_bearer(secret, "192.0.2.7") is not None
    token.refresh_from_db()
    assert token.usage_count + pending_usage(token.pk) == 3
    assert token.last_used is not None and token.last_used_ip == "192.0.2.7"


def test_expired_and_revoked_api_tokens(personas: Personas) -> None:
    token, secret = services.create_api_token(personas.owner, name="short", expires_in_days=1)
    assert authenticate_bearer(secret, None) is not None
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    services.invalidate_auth_cache()  # outside a transaction: runs at once
    assert authenticate_bearer(secret, None) is None
    token2, secret2 = services.create_api_token(personas.owner, name="revoked")
    assert authenticate_bearer(secret2, None) is not None
    services.revoke_api_token(token2, revoked_by="owner@example.com", reason="leaked")
    assert authenticate_bearer(secret2, None) is None


def test_ip_allow_list(personas: Personas) -> None:
    _, secret = services.create_api_token(personas.owner, name="office", ip_restrictions=["10.1.0.0/16", "192.0.2.9"])
    assert authenticate_bearer(secret, "10.1.200.3") is not None
    assert authenticate_bearer(secret, "192.0.2.9") is not None
    assert authenticate_bearer(secret, "10.2.0.1") is None
    assert authenticate_bearer(secret, None) is None


def test_token_scope_validation(personas: Personas) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        services.create_api_token(personas.outsider, name="x", team=personas.team)
    assert "team_id" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        services.create_api_token(personas.owner, name="x", ip_restrictions=["not-an-ip"])
    assert "ip_restrictions" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        services.create_api_token(personas.owner, name="x", permissions=["tools.fly"])
    assert "permissions" in excinfo.value.message_dict
    assert not ApiToken.objects.filter(name="x").exists()


@pytest.mark.django_db(transaction=True)
def test_embedded_auth_service(personas: Personas, settings) -> None:
    service = EmbeddedAuthService()
    principal = async_to_sync(service.authenticate)(Credentials(bearer=issue_jwt(personas.owner)))
    assert principal.user_id == personas.owner.pk
    assert async_to_sync(service.authenticate)(Credentials()) is None
    basic = Credentials(basic=("owner@example.com", "Correct-Horse-7"))
    assert async_to_sync(service.authenticate)(basic) is None  # basic auth is off by default
    settings.BASIC_AUTH_ENABLED = True
    principal = async_to_sync(service.authenticate)(basic)
    assert principal.user_id == personas.owner.pk and principal.auth_method == "basic"
    wrong = Credentials(basic=("owner@example.com", "wrong"))
    assert async_to_sync(service.authenticate)(wrong) is None
    assert async_to_sync(service.has_permission)(principal, "teams.update", team_id=personas.team.pk)
    scoped = authenticate_bearer(personas.scoped_token_secret, None)
    assert not async_to_sync(service.has_permission)(scoped, "tools.create", team_id=personas.team.pk)
    assert async_to_sync(service.has_permission)(scoped, "tools.execute", team_id=personas.team.pk)
