"""SOCIALACCOUNT_PROVIDERS built from the environment (pure: imported by settings).

Each provider is enabled by its client id; apps may also be added in the admin
(allauth's "Social applications"). Keycloak and generic OpenID Connect use the
verified OIDC provider (``oidc``), which always checks the id_token's signature.
"""

from __future__ import annotations

from typing import Any

from contextforge.env import env_secret, env_str

__all__ = ["providers_from_env"]


def _app(prefix: str, **extra: Any) -> dict[str, Any] | None:
    client_id = env_str(f"{prefix}_CLIENT_ID", "")
    if not client_id:
        return None
    return {"client_id": client_id, "secret": env_secret(f"{prefix}_CLIENT_SECRET", "") or "", **extra}


def providers_from_env() -> dict[str, Any]:
    """The allauth provider settings for every SSO provider configured in the environment."""
    providers: dict[str, Any] = {}
    for provider, prefix in (("github", "SSO_GITHUB"), ("google", "SSO_GOOGLE")):
        app = _app(prefix)
        if app:
            providers[provider] = {"APPS": [app]}
    microsoft = _app("SSO_MICROSOFT", settings={"tenant": env_str("SSO_MICROSOFT_TENANT", "organizations")})
    if microsoft:
        providers["microsoft"] = {"APPS": [microsoft]}
    okta = _app("SSO_OKTA")
    if okta:
        providers["okta"] = {"APPS": [okta], "OKTA_BASE_URL": env_str("SSO_OKTA_BASE_URL", "")}
    oidc_apps = []
    keycloak_url = env_str("SSO_KEYCLOAK_BASE_URL", "")
    keycloak = _app(
        "SSO_KEYCLOAK",
        provider_id="keycloak",
        name="Keycloak",
        settings={"server_url": f"{keycloak_url.rstrip('/')}/realms/{env_str('SSO_KEYCLOAK_REALM', 'master')}"},
    )
    if keycloak and keycloak_url:
        oidc_apps.append(keycloak)
    generic = _app(
        "SSO_OIDC",
        provider_id=env_str("SSO_OIDC_PROVIDER_ID", "oidc"),
        name=env_str("SSO_OIDC_NAME", "Single sign-on"),
        settings={"server_url": env_str("SSO_OIDC_SERVER_URL", "")},
    )
    if generic and generic["settings"]["server_url"]:
        oidc_apps.append(generic)
    if oidc_apps:
        providers["oidc"] = {"APPS": oidc_apps}
    return providers
