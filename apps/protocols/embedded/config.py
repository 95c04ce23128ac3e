"""Config & secrets, embedded: the settings a protocol module may read."""

from __future__ import annotations

from typing import Any

from django.conf import settings

__all__ = ["MODULE_SETTINGS", "EmbeddedConfigService"]

#: The settings visible to protocol modules; anything else reads as the default.
MODULE_SETTINGS = frozenset(
    {
        "ALLOWED_HOSTS",
        "CORS_ALLOWED_ORIGINS",
        "DATA_UPLOAD_MAX_MEMORY_SIZE",
        "DEBUG",
        "MCP_ALLOWED_ORIGINS",
        "MCP_REQUIRE_AUTH",
        "MCP_SESSION_TTL",
        "MCP_SSE_KEEPALIVE",
        "MODULE_DRAIN_SECONDS",
        "PUBLIC_BASE_URL",
    }
)


class EmbeddedConfigService:
    """ConfigService over Django settings, limited to ``MODULE_SETTINGS`` (no secrets)."""

    def get(self, key: str, default: Any = None) -> Any:
        """A module-visible setting, or ``default``."""
        if key not in MODULE_SETTINGS:
            return default
        return getattr(settings, key, default)
