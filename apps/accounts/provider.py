"""allauth looks here (``<app>.provider``) for provider classes this app contributes."""

from .sso.provider import VerifiedOIDCProvider

provider_classes = [VerifiedOIDCProvider]
