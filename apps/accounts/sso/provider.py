"""The verified OpenID Connect provider: allauth's OIDC provider, with id_token signatures always checked.

allauth skips the id_token signature check when it fetched the token itself over TLS
(which the OIDC spec permits); the platform checks it anyway, against the provider's
JWKS, so a forged or tampered id_token never signs anyone in.
"""

from __future__ import annotations

from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider

from .views import VerifiedOIDCAdapter


class VerifiedOIDCProvider(OpenIDConnectProvider):
    """Keycloak and generic OpenID Connect providers (``provider_id`` names each app)."""

    id = "oidc"
    name = "OpenID Connect"
    oauth2_adapter_class = VerifiedOIDCAdapter
