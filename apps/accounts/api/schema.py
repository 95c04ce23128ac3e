"""OpenAPI descriptions of the platform's authentication classes (drf-spectacular extensions)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer`` with a JWT or a ``cf_`` API token."""

    target_class = "apps.accounts.api.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """HTTP bearer."""
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or API token"}


class SessionScheme(OpenApiAuthenticationExtension):
    """The operator UI's session cookie."""

    target_class = "apps.accounts.api.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """Session cookie."""
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
