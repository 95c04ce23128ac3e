"""SSO providers configured from the environment, and the email-domain allow list."""

from __future__ import annotations

import pytest

from apps.accounts.sso.adapter import email_domain_allowed, groups_of
from apps.accounts.sso.config import providers_from_env


def test_no_env_no_providers(monkeypatch) -> None:
    for name in ("SSO_GITHUB_CLIENT_ID", "SSO_OIDC_CLIENT_ID", "SSO_KEYCLOAK_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    assert providers_from_env() == {}


def test_every_provider_from_env(monkeypatch) -> None:
    env = {
        "SSO_GITHUB_CLIENT_ID": "gh",
        "SSO_GITHUB_CLIENT_SECRET": "gh-secret",
        "SSO_GOOGLE_CLIENT_ID": "gg",
        "SSO_MICROSOFT_CLIENT_ID": "ms",
        "SSO_MICROSOFT_TENANT": "contoso",
        "SSO_OKTA_CLIENT_ID": "ok",
        "SSO_OKTA_BASE_URL": "dev-1.okta.com",
        "SSO_KEYCLOAK_CLIENT_ID": "kc",
        "SSO_KEYCLOAK_BASE_URL": "https://sso.example.com/",
        "SSO_KEYCLOAK_REALM": "acme",
        "SSO_OIDC_CLIENT_ID": "generic",
        "SSO_OIDC_SERVER_URL": "https://idp.example.com",
        "SSO_OIDC_PROVIDER_ID": "corp",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    providers = providers_from_env()
    assert providers["github"]["APPS"] == [{"client_id": "gh", "secret": "gh-secret"}]
    assert providers["google"]["APPS"][0]["client_id"] == "gg"
    assert providers["microsoft"]["APPS"][0]["settings"] == {"tenant": "contoso"}
    assert providers["okta"]["OKTA_BASE_URL"] == "dev-1.okta.com"
    keycloak, generic = providers["oidc"]["APPS"]
    assert keycloak["provider_id"] == "keycloak"
    assert keycloak["settings"]["server_url"] == "https://sso.example.com/realms/acme"
    assert generic["provider_id"] == "corp" and generic["settings"]["server_url"] == "https://idp.example.com"


@pytest.mark.parametrize(
    "allowed,email,expected",
    [
        ([], "anyone@anywhere.org", True),
        (["example.com"], "a@example.com", True),
        (["example.com"], "a@EXAMPLE.COM", True),
        (["example.com"], "a@eu.example.com", True),
        (["example.com"], "a@badexample.com", False),
        (["example.com"], "a@example.com.evil.org", False),
        (["example.com"], "", False),
    ],
)
def test_email_domain_allow_list(settings, allowed, email, expected) -> None:
    settings.SSO_ALLOWED_DOMAINS = allowed
    assert email_domain_allowed(email) is expected


def test_groups_claim(settings) -> None:
    assert groups_of({"userinfo": {"groups": ["a", "b"]}, "id_token": {"groups": ["c"]}}) == ["a", "b"]
    assert groups_of({"id_token": {"groups": ["c"]}}) == ["c"]
    settings.SSO_GROUPS_CLAIM = "roles"
    assert groups_of({"roles": ["x", {"bad": 1}]}) == ["x"]
    assert groups_of({"roles": "not-a-list"}) == []
