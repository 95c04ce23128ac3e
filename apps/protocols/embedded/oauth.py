"""Config & secrets, embedded: the OAuth token store of upstream gateways, over apps.catalog."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from apps.catalog import upstream_oauth

from .auth import _releasing_connections

__all__ = ["EmbeddedOAuthStore"]


def _run(function: Any) -> Any:
    return sync_to_async(_releasing_connections(function), thread_sensitive=False)


class EmbeddedOAuthStore:
    """OAuthStore over the catalog's encrypted token and registration records."""

    async def load_tokens(self, gateway_id: str) -> dict[str, Any] | None:
        """The gateway's tokens (``expires_in`` counted from now), or None."""
        return await _run(upstream_oauth.load_tokens)(gateway_id)

    async def save_tokens(self, gateway_id: str, tokens: dict[str, Any]) -> None:
        """Persist new tokens, encrypted."""
        await _run(upstream_oauth.save_tokens)(gateway_id, tokens)

    async def clear_tokens(self, gateway_id: str, access_token: str) -> None:
        """Forget the tokens if they still hold ``access_token``."""
        await _run(upstream_oauth.clear_tokens)(gateway_id, access_token)

    async def acquire_refresh(self, gateway_id: str, seconds: float) -> bool:
        """Take the gateway's refresh lease (the cache backend: Redis in production)."""
        return await _run(upstream_oauth.acquire_refresh)(gateway_id, seconds)

    async def release_refresh(self, gateway_id: str) -> None:
        """Give the lease back."""
        await _run(upstream_oauth.release_refresh)(gateway_id)

    async def load_client(self, gateway_id: str) -> dict[str, Any] | None:
        """The stored client registration, or None."""
        return await _run(upstream_oauth.load_client)(gateway_id)

    async def save_client(self, gateway_id: str, client: dict[str, Any]) -> None:
        """Persist a client registration, encrypted."""
        await _run(upstream_oauth.save_client)(gateway_id, client)
