"""The caller as the core sees it: a plain, immutable value that crosses every boundary.

A Principal is built once per request from a session, JWT or API token and handed to
services, restricted querysets and, as the SPI's CallerContext, to protocol modules.
No ORM object travels with it, so a sidecar module can receive it as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["ANONYMOUS", "Principal"]


@dataclass(frozen=True)
class Principal:
    """Who is calling and what the credential used narrows them to."""

    user_id: int | None
    email: str = ""
    is_platform_admin: bool = False
    team_ids: frozenset[int] = field(default_factory=frozenset)
    # How the caller authenticated: session | jwt | api_token | basic | anonymous.
    auth_method: str = "anonymous"
    token_id: str | None = None
    # Narrowing from a scoped token: None means "no narrowing" on that axis.
    scope_team_id: int | None = None
    scope_server_ids: frozenset[str] | None = None
    scope_permissions: frozenset[str] | None = None
    client_ip: str | None = None

    @property
    def is_authenticated(self) -> bool:
        """True for a known user, whatever the credential."""
        return self.user_id is not None

    def with_client_ip(self, ip: str | None) -> Principal:
        """A copy carrying the caller's address."""
        return replace(self, client_ip=ip)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (sets become sorted lists)."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, frozenset):
                data[key] = sorted(value)
        return data


ANONYMOUS = Principal(user_id=None)
